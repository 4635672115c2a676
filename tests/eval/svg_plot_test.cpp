// The SVG writer's helpers (ticks, number labels, escaping) and where it puts
// things: points on a log axis, error bars, legends, heatmap colours.
#include "eval/svg_plot.h"

#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

namespace vase {
namespace {

size_t count(const std::string& text, const std::string& needle) {
    size_t n = 0;
    for (size_t pos = text.find(needle); pos != std::string::npos;
         pos = text.find(needle, pos + 1)) {
        ++n;
    }
    return n;
}

TEST(SvgPlot, NiceTicksUseStepsOfOneTwoOrFive) {
    EXPECT_EQ(nice_ticks(0, 100, 6), (std::vector<double>{0, 20, 40, 60, 80, 100}));
    // range 0.74 / 4 = 0.185 -> step 0.2
    const std::vector<double> t = nice_ticks(0.13, 0.87, 5);
    ASSERT_EQ(t.size(), 4u);
    for (size_t i = 0; i < t.size(); ++i)
        EXPECT_NEAR(t[i], 0.2 * static_cast<double>(i + 1), 1e-12);
    EXPECT_EQ(nice_ticks(-3, 3, 7), (std::vector<double>{-3, -2, -1, 0, 1, 2, 3}));
    EXPECT_EQ(nice_ticks(5, 5, 6), (std::vector<double>{5}));
    EXPECT_TRUE(nice_ticks(0, std::nan(""), 6).empty());
}

TEST(SvgPlot, TickLabelsAreShort) {
    EXPECT_EQ(format_tick(1024), "1024");
    EXPECT_EQ(format_tick(-0.0), "0");
    EXPECT_EQ(format_tick(2.5), "2.5");
    EXPECT_EQ(format_tick(0.1 + 0.2), "0.3");
    EXPECT_EQ(format_tick(44.4444444), "44.44");
    EXPECT_EQ(format_tick(std::nan("")), "");
}

TEST(SvgPlot, EscapesMarkup) {
    EXPECT_EQ(xml_escape("a<b & \"c\" 'd'>"), "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;");
    EXPECT_EQ(xml_escape(std::string("x\x01y")), "x y");
}

// The x pixel of each marker of the one series, in drawing order.
std::vector<double> marker_xs(const std::string& svg) {
    std::vector<double> xs;
    const std::regex re("<circle class=\"marker\" cx=\"([0-9.]+)\"");
    for (auto it = std::sregex_iterator(svg.begin(), svg.end(), re); it != std::sregex_iterator();
         ++it) {
        xs.push_back(std::stod((*it)[1]));
    }
    return xs;
}

TEST(SvgPlot, LogTwoAxisSpacesDoublingsEvenly) {
    LineFigure fig;
    LinePanel panel;
    panel.x.scale = AxisScale::kLog2;
    panel.x.ticks = {512, 1024, 2048, 4096};
    panel.series.push_back({"s", {{4096, 3, 0}, {512, 1, 0}, {1024, 2, 0.5}}, ""});
    fig.panels.push_back(panel);
    const std::string svg = render_line_figure(fig);
    // Legend swatch first, then the points in x order (the writer sorts them).
    const std::vector<double> xs = marker_xs(svg);
    ASSERT_EQ(xs.size(), 4u);
    // 512 -> 1024 is one octave, 1024 -> 4096 two (coordinates are rounded to 0.1 px).
    EXPECT_GT(xs[2] - xs[1], 20);
    EXPECT_NEAR(xs[3] - xs[2], 2 * (xs[2] - xs[1]), 0.15);
    EXPECT_EQ(count(svg, "class=\"errorbar\""), 1u);
    for (const char* tick : {">512<", ">1024<", ">2048<", ">4096<"}) {
        EXPECT_NE(svg.find(tick), std::string::npos) << tick;
    }
}

TEST(SvgPlot, LabelsShareColoursAcrossPanelsAndAreEscaped) {
    LineFigure fig;
    for (int i = 0; i < 2; ++i) {
        LinePanel panel;
        panel.title = "panel <" + std::to_string(i) + ">";
        panel.series.push_back({"a&b", {{1, 1, 0}, {2, 2, 0}}, ""});
        panel.series.push_back({"c", {{1, 2, 0}, {2, 1, 0}}, ""});
        panel.hlines.push_back({"ref", 1.5, 0.2, "#333333"});
        fig.panels.push_back(panel);
    }
    const std::string svg = render_line_figure(fig);
    EXPECT_EQ(svg.find("a&b"), std::string::npos);
    EXPECT_NE(svg.find(">a&amp;b</text>"), std::string::npos);
    EXPECT_NE(svg.find(">panel &lt;1&gt;</text>"), std::string::npos);
    const std::string first = plot_palette()[0], second = plot_palette()[1];
    EXPECT_EQ(count(svg, "data-label=\"a&amp;b\" points"), 2u);
    EXPECT_EQ(count(svg, "stroke=\"" + first + "\" stroke-width=\"2\" stroke-linejoin"), 2u);
    EXPECT_EQ(count(svg, "stroke=\"" + second + "\" stroke-width=\"2\" stroke-linejoin"), 2u);
    EXPECT_EQ(count(svg, "class=\"band\""), 2u);
    EXPECT_EQ(count(svg, ">ref</text>"), 1u);  // one legend entry for both panels
}

TEST(SvgPlot, HeatmapColoursFollowTheLogScale) {
    HeatmapFigure fig;
    fig.color_min = 1e-2;
    fig.color_max = 1;
    HeatmapPanel panel;
    panel.x.scale = AxisScale::kLog10;
    panel.x_edges = {0.1, 1, 10};
    panel.values = {{1.0, 0.0}, {0.1, 0.01}};
    panel.row_labels = {"0", "1"};
    fig.panels.push_back(panel);
    const std::string svg = render_heatmap_figure(fig);
    // Three non-empty cells: the top of the scale (viridis yellow), the middle, the bottom.
    const size_t cells = svg.find("<g class=\"cells\"");
    const std::string body = svg.substr(cells, svg.find("</g>", cells) - cells);
    EXPECT_EQ(count(body, "<rect"), 3u);
    EXPECT_NE(body.find("fill=\"#fde725\""), std::string::npos);
    EXPECT_NE(body.find("fill=\"#21918c\""), std::string::npos);
    EXPECT_NE(body.find("fill=\"#440154\""), std::string::npos);
    EXPECT_NE(svg.find(">0.1</text>"), std::string::npos);
    EXPECT_NE(svg.find(">10</text>"), std::string::npos);
}

}  // namespace
}  // namespace vase
