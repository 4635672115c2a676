// A small SVG writer for the evaluation report: grids of line-plot panels
// (series with error bars, horizontal reference lines, one shared legend) and
// grids of heatmap panels with a colour bar. It writes SVG text itself, so
// the report needs no plotting library; any browser or `rsvg-convert` shows it.
#pragma once

#include <cmath>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vase {

enum class AxisScale { kLinear, kLog2, kLog10 };

struct PlotAxis {
    std::string label;
    AxisScale scale = AxisScale::kLinear;
    // Where ticks go (data units); empty: chosen from the range (1-2-5 steps on
    // linear axes, powers of the base on log axes).
    std::vector<double> ticks;
    // The range; NaN: fitted to the data (and ticks), rounded out to ticks.
    double min = std::numeric_limits<double>::quiet_NaN();
    double max = std::numeric_limits<double>::quiet_NaN();
    // A fitted range never goes beyond these (e.g. 0..100 for a percentage).
    double clamp_min = -std::numeric_limits<double>::infinity();
    double clamp_max = std::numeric_limits<double>::infinity();
};

struct PlotPoint {
    double x = 0;
    double y = 0;
    double err = 0;  // half-length of the error bar; 0: none
};

struct PlotSeries {
    std::string label;  // legend text; series with equal labels share colour and marker
    std::vector<PlotPoint> points;
    std::string color;  // "#rrggbb"; empty: the next colour of plot_palette()
};

// A dashed horizontal line across a panel, e.g. a baseline without an x value.
struct PlotHLine {
    std::string label;
    double y = 0;
    double band = 0;  // half-height of a shaded band around it (e.g. ±SE); 0: none
    std::string color = "#333333";
};

struct LinePanel {
    std::string title;
    PlotAxis x;
    PlotAxis y;
    std::vector<PlotSeries> series;  // each drawn as one <polyline class="series">
    std::vector<PlotHLine> hlines;
};

struct LineFigure {
    std::string title;
    std::vector<LinePanel> panels;
    int columns = 0;  // panels per row; 0: up to 3
    double panel_width = 400;
    double panel_height = 290;
    // Pixels between series at the same x, so their error bars stay apart.
    double dodge = 5;
};

struct HeatmapPanel {
    std::string title;
    PlotAxis x;  // spans x_edges; range and scale from here
    std::string y_label;
    std::vector<double> x_edges;              // n + 1 increasing bin edges
    std::vector<std::string> row_labels;      // one per row, drawn top to bottom
    std::vector<std::vector<double>> values;  // [rows][n]; <= 0 or NaN: left empty
};

struct HeatmapFigure {
    std::string title;
    std::vector<HeatmapPanel> panels;
    std::string color_label;  // what a cell's colour means
    double color_min = 1e-4;  // values map onto the colour scale between these
    double color_max = 1;
    bool log_color = true;
    std::vector<std::pair<double, std::string>> color_ticks;  // empty: automatic
    int columns = 0;                                          // panels per row; 0: up to 2
    double panel_width = 440;
    double panel_height = 340;
};

// Ten distinct colours (Tableau 10), assigned to labels in order of appearance.
const std::vector<std::string>& plot_palette();

// Round tick values (steps of 1, 2 or 5 times a power of ten) inside [lo, hi],
// about `target` of them.
std::vector<double> nice_ticks(double lo, double hi, int target);

// A number for a tick label: integers without decimals, others with at most
// four significant digits.
std::string format_tick(double value);

// Escapes &, <, >, " and ' for SVG text and attributes.
std::string xml_escape(std::string_view text);

std::string render_line_figure(const LineFigure& figure);
std::string render_heatmap_figure(const HeatmapFigure& figure);

}  // namespace vase
