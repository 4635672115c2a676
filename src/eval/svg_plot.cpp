#include "eval/svg_plot.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <map>

namespace vase {
namespace {

constexpr const char* kFontFamily = "DejaVu Sans, Helvetica, Arial, sans-serif";
constexpr double kGlyphWidth = 0.6;  // average glyph width per pixel of font size
constexpr double kLegendRowHeight = 20;

// Line-panel margins around the plot area: tick labels, axis labels, title.
constexpr double kLeftMargin = 62;
constexpr double kRightMargin = 18;
constexpr double kTopMargin = 30;
constexpr double kBottomMargin = 48;

double text_width(std::string_view text, double font_size) {
    double glyphs = 0;
    for (unsigned char c : text) {
        if ((c & 0xC0) != 0x80) glyphs += 1;  // count UTF-8 code points, not bytes
    }
    return glyphs * font_size * kGlyphWidth;
}

// A pixel coordinate; a tenth of a pixel is finer than any screen shows.
std::string px(double v) {
    if (std::abs(v) < 0.05) v = 0;  // no "-0.0"
    return fmt::format("{:.1f}", v);
}

bool in_domain(AxisScale scale, double v) {
    return std::isfinite(v) && (scale == AxisScale::kLinear || v > 0);
}

double to_axis(AxisScale scale, double v) {
    switch (scale) {
        case AxisScale::kLog2:
            return std::log2(v);
        case AxisScale::kLog10:
            return std::log10(v);
        case AxisScale::kLinear:
            break;
    }
    return v;
}

double from_axis(AxisScale scale, double t) {
    switch (scale) {
        case AxisScale::kLog2:
            return std::exp2(t);
        case AxisScale::kLog10:
            return std::pow(10.0, t);
        case AxisScale::kLinear:
            break;
    }
    return t;
}

// 1, 2 or 5 times a power of ten, near `raw`.
double nice_step(double raw) {
    const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
    const double f = raw / magnitude;
    const double nice = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
    return nice * magnitude;
}

// An axis with its range fixed: data -> pixels.
struct AxisMap {
    AxisScale scale = AxisScale::kLinear;
    double lo = 0, hi = 1;      // axis units (the log of data on log axes)
    double p_lo = 0, p_hi = 1;  // pixels of lo and hi
    std::vector<double> ticks;  // data units

    double operator()(double v) const {
        return p_lo + (to_axis(scale, v) - lo) / (hi - lo) * (p_hi - p_lo);
    }
};

// Fits `axis` to `data` (data units): explicit ends are kept, the others
// follow the data, padded on log axes and rounded out to a tick on linear ones.
AxisMap fit_axis(const PlotAxis& axis, const std::vector<double>& data, bool pad) {
    const AxisScale s = axis.scale;
    double dlo = std::numeric_limits<double>::infinity();
    double dhi = -dlo;
    auto take = [&](double v) {
        if (!in_domain(s, v)) return;
        dlo = std::min(dlo, to_axis(s, v));
        dhi = std::max(dhi, to_axis(s, v));
    };
    for (double v : data) take(v);
    for (double v : axis.ticks) take(v);
    const bool has_min = in_domain(s, axis.min);
    const bool has_max = in_domain(s, axis.max);
    double lo = has_min ? to_axis(s, axis.min) : dlo;
    double hi = has_max ? to_axis(s, axis.max) : dhi;
    if (!(lo <= hi)) {
        if (has_min && has_max) {
            std::swap(lo, hi);
        } else if (has_min) {
            hi = lo + 1;
        } else if (has_max) {
            lo = hi - 1;
        } else {
            lo = 0;
            hi = 1;
        }
    }
    if (hi - lo < 1e-12) {
        const double half = s == AxisScale::kLinear ? std::max(std::abs(lo) * 0.1, 1.0) : 0.5;
        if (!has_min || has_max) lo -= half;
        if (!has_max || has_min) hi += half;
    }
    if (pad && s != AxisScale::kLinear) {
        const double margin = std::max(0.06 * (hi - lo), 0.15);
        if (!has_min) lo -= margin;
        if (!has_max) hi += margin;
    }
    if (s == AxisScale::kLinear) {
        const double step = nice_step((hi - lo) / 5);
        if (!has_min) lo = std::floor(lo / step + 1e-9) * step;
        if (!has_max) hi = std::ceil(hi / step - 1e-9) * step;
    }
    if (!has_min && in_domain(s, axis.clamp_min)) lo = std::max(lo, to_axis(s, axis.clamp_min));
    if (!has_max && in_domain(s, axis.clamp_max)) hi = std::min(hi, to_axis(s, axis.clamp_max));
    if (!(hi > lo)) hi = lo + 1;

    AxisMap map;
    map.scale = s;
    map.lo = lo;
    map.hi = hi;
    const double eps = (hi - lo) * 1e-9;
    if (!axis.ticks.empty()) {
        for (double v : axis.ticks) {
            if (in_domain(s, v) && to_axis(s, v) >= lo - eps && to_axis(s, v) <= hi + eps) {
                map.ticks.push_back(v);
            }
        }
    } else if (s == AxisScale::kLinear) {
        map.ticks = nice_ticks(lo, hi, 6);
    } else {
        const double base = s == AxisScale::kLog2 ? 2 : 10;
        std::vector<double> powers;
        for (double k = std::ceil(lo - 1e-9); k <= hi + 1e-9; k += 1) {
            powers.push_back(std::pow(base, k));
        }
        const size_t stride = std::max<size_t>(1, (powers.size() + 7) / 8);
        for (size_t i = 0; i < powers.size(); i += stride) map.ticks.push_back(powers[i]);
        if (map.ticks.size() < 2) map.ticks = nice_ticks(from_axis(s, lo), from_axis(s, hi), 4);
    }
    return map;
}

struct LegendEntry {
    std::string label;
    std::string color;
    int marker = 0;
    bool dashed = false;  // a horizontal line, not a series
};

// A filled marker; `title` becomes its tooltip.
std::string marker_svg(int shape, double x, double y, const std::string& color,
                       const std::string& title) {
    const std::string style =
        fmt::format("fill=\"{}\" stroke=\"#ffffff\" stroke-width=\"1\"", color);
    const std::string tip = title.empty() ? "" : "<title>" + xml_escape(title) + "</title>";
    switch (shape % 5) {
        case 0:
            return fmt::format(
                "<circle class=\"marker\" cx=\"{}\" cy=\"{}\" r=\"4.2\" {}>{}</circle>", px(x),
                px(y), style, tip);
        case 1:
            return fmt::format(
                "<rect class=\"marker\" x=\"{}\" y=\"{}\" width=\"7.6\" height=\"7.6\" "
                "{}>{}</rect>",
                px(x - 3.8), px(y - 3.8), style, tip);
        case 2:
            return fmt::format(
                "<path class=\"marker\" d=\"M{} {}L{} {}L{} {}L{} {}Z\" {}>{}</path>", px(x),
                px(y - 5.2), px(x + 5.2), px(y), px(x), px(y + 5.2), px(x - 5.2), px(y), style,
                tip);
        case 3:
            return fmt::format("<path class=\"marker\" d=\"M{} {}L{} {}L{} {}Z\" {}>{}</path>",
                               px(x), px(y - 5.2), px(x + 4.8), px(y + 3.6), px(x - 4.8),
                               px(y + 3.6), style, tip);
        default:
            return fmt::format("<path class=\"marker\" d=\"M{} {}L{} {}L{} {}Z\" {}>{}</path>",
                               px(x), px(y + 5.2), px(x + 4.8), px(y - 3.6), px(x - 4.8),
                               px(y - 3.6), style, tip);
    }
}

std::string text_svg(double x, double y, std::string_view text, std::string_view extra) {
    return fmt::format("<text x=\"{}\" y=\"{}\"{}{}>{}</text>\n", px(x), px(y),
                       extra.empty() ? "" : " ", extra, xml_escape(text));
}

std::string svg_open(double width, double height) {
    return fmt::format(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" "
        "viewBox=\"0 0 {0} {1}\" font-family=\"{2}\" font-size=\"12\" fill=\"#222222\">\n"
        "<rect width=\"{0}\" height=\"{1}\" fill=\"#ffffff\"/>\n",
        px(width), px(height), kFontFamily);
}

// Lays legend entries out in centred rows no wider than `max_width`; returns
// the SVG and sets `rows`.
std::string legend_svg(const std::vector<LegendEntry>& entries, double center_x, double top,
                       double max_width, int* rows) {
    constexpr double kSwatch = 26;
    constexpr double kGap = 20;
    std::vector<std::vector<size_t>> lines(1);
    std::vector<double> widths(1, 0);
    for (size_t i = 0; i < entries.size(); ++i) {
        const double w = kSwatch + 6 + text_width(entries[i].label, 12);
        if (!lines.back().empty() && widths.back() + kGap + w > max_width) {
            lines.emplace_back();
            widths.push_back(0);
        }
        widths.back() += (lines.back().empty() ? 0 : kGap) + w;
        lines.back().push_back(i);
    }
    std::string out = "<g class=\"legend\">\n";
    for (size_t r = 0; r < lines.size(); ++r) {
        double x = center_x - widths[r] / 2;
        const double y = top + kLegendRowHeight * static_cast<double>(r) + kLegendRowHeight / 2;
        for (size_t i : lines[r]) {
            const LegendEntry& e = entries[i];
            out += fmt::format(
                "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" "
                "stroke-width=\"2\"{}/>\n",
                px(x), px(y), px(x + kSwatch), px(y), e.color,
                e.dashed ? " stroke-dasharray=\"6 4\"" : "");
            if (!e.dashed) out += marker_svg(e.marker, x + kSwatch / 2, y, e.color, "") + "\n";
            out += text_svg(x + kSwatch + 6, y + 4, e.label, "");
            x += kSwatch + 6 + text_width(e.label, 12) + kGap;
        }
    }
    out += "</g>\n";
    *rows = static_cast<int>(lines.size());
    return out;
}

// Axis ticks, tick labels, grid lines and axis labels around a plot area.
std::string axes_svg(const AxisMap& xm, const AxisMap& ym, const PlotAxis& x_axis,
                     const PlotAxis& y_axis, double panel_x, double panel_bottom, bool grid) {
    const double x0 = std::min(xm.p_lo, xm.p_hi), x1 = std::max(xm.p_lo, xm.p_hi);
    const double y0 = std::min(ym.p_lo, ym.p_hi), y1 = std::max(ym.p_lo, ym.p_hi);
    std::string out;
    for (double t : ym.ticks) {
        const double y = ym(t);
        if (grid) {
            out +=
                fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#e6e6e6\"/>\n",
                            px(x0), px(y), px(x1), px(y));
        }
        out += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#888888\"/>\n",
                           px(x0 - 4), px(y), px(x0), px(y));
        out += text_svg(x0 - 7, y + 4, format_tick(t), "text-anchor=\"end\"");
    }
    for (double t : xm.ticks) {
        const double x = xm(t);
        if (grid) {
            out +=
                fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#f0f0f0\"/>\n",
                            px(x), px(y0), px(x), px(y1));
        }
        out += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#888888\"/>\n",
                           px(x), px(y1), px(x), px(y1 + 4));
        out += text_svg(x, y1 + 17, format_tick(t), "text-anchor=\"middle\"");
    }
    if (!x_axis.label.empty()) {
        out += text_svg((x0 + x1) / 2, panel_bottom - 10, x_axis.label,
                        "text-anchor=\"middle\" font-size=\"12\"");
    }
    if (!y_axis.label.empty()) {
        out += fmt::format(
            "<text transform=\"translate({},{}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n",
            px(panel_x + 16), px((y0 + y1) / 2), xml_escape(y_axis.label));
    }
    return out;
}

struct SeriesStyle {
    std::string color;
    int marker = 0;
};

std::string line_panel_svg(const LinePanel& panel, double left, double top, double width,
                           double height, const std::map<std::string, SeriesStyle>& styles,
                           const std::map<std::string, std::string>& hline_colors, int clip_id,
                           double dodge) {
    const double x0 = left + kLeftMargin, x1 = left + width - kRightMargin;
    const double y0 = top + kTopMargin, y1 = top + height - kBottomMargin;

    std::vector<double> xs, ys;
    bool any_data = false;
    for (const PlotSeries& s : panel.series) {
        for (const PlotPoint& p : s.points) {
            if (!in_domain(panel.x.scale, p.x) || !in_domain(panel.y.scale, p.y)) continue;
            xs.push_back(p.x);
            ys.push_back(p.y - std::abs(p.err));
            ys.push_back(p.y + std::abs(p.err));
            ys.push_back(p.y);
            any_data = true;
        }
    }
    for (const PlotHLine& h : panel.hlines) {
        if (!in_domain(panel.y.scale, h.y)) continue;
        ys.push_back(h.y - std::abs(h.band));
        ys.push_back(h.y + std::abs(h.band));
        ys.push_back(h.y);
        any_data = true;
    }
    AxisMap xm = fit_axis(panel.x, xs, true);
    AxisMap ym = fit_axis(panel.y, ys, false);
    xm.p_lo = x0;
    xm.p_hi = x1;
    ym.p_lo = y1;
    ym.p_hi = y0;

    std::string out = "<g class=\"panel\">\n";
    out += text_svg((x0 + x1) / 2, top + 19, panel.title,
                    "text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\"");
    out += fmt::format(
        "<clipPath id=\"clip{}\"><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/>"
        "</clipPath>\n",
        clip_id, px(x0), px(y0), px(x1 - x0), px(y1 - y0));
    out += axes_svg(xm, ym, panel.x, panel.y, left, top + height, true);

    out += fmt::format("<g clip-path=\"url(#clip{})\">\n", clip_id);
    for (const PlotHLine& h : panel.hlines) {
        if (!in_domain(panel.y.scale, h.y)) continue;
        const std::string color = hline_colors.at(h.label);
        if (h.band > 0) {
            const double a = ym(h.y + h.band), b = ym(h.y - h.band);
            out += fmt::format(
                "<rect class=\"band\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\" "
                "fill-opacity=\"0.10\"/>\n",
                px(x0), px(std::min(a, b)), px(x1 - x0), px(std::abs(b - a)), color);
        }
        out += fmt::format(
            "<line class=\"hline\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" "
            "stroke-width=\"1.8\" stroke-dasharray=\"7 5\"><title>{}</title></line>\n",
            px(x0), px(ym(h.y)), px(x1), px(ym(h.y)), color,
            xml_escape(fmt::format("{}: {}", h.label, format_tick(h.y))));
    }

    // Each series' points in x order, nudged sideways by its dodge offset.
    struct Placed {
        double x, y, lo, hi;
        const PlotPoint* point;
    };
    std::vector<std::vector<Placed>> placed(panel.series.size());
    const double m = static_cast<double>(panel.series.size());
    for (size_t i = 0; i < panel.series.size(); ++i) {
        const PlotSeries& s = panel.series[i];
        const double offset = m > 1 ? (static_cast<double>(i) - (m - 1) / 2) * dodge : 0;
        std::vector<const PlotPoint*> points;
        for (const PlotPoint& p : s.points) {
            if (in_domain(panel.x.scale, p.x) && in_domain(panel.y.scale, p.y))
                points.push_back(&p);
        }
        std::stable_sort(points.begin(), points.end(),
                         [](const PlotPoint* a, const PlotPoint* b) { return a->x < b->x; });
        for (const PlotPoint* p : points) {
            const double e = std::abs(p->err);
            placed[i].push_back({xm(p->x) + offset, ym(p->y), ym(p->y - e), ym(p->y + e), p});
        }
    }
    for (size_t i = 0; i < panel.series.size(); ++i) {
        const SeriesStyle& style = styles.at(panel.series[i].label);
        std::string points;
        for (const Placed& p : placed[i]) {
            if (!points.empty()) points += ' ';
            points += px(p.x) + ',' + px(p.y);
        }
        out += fmt::format(
            "<polyline class=\"series\" data-label=\"{}\" points=\"{}\" fill=\"none\" "
            "stroke=\"{}\" stroke-width=\"2\" stroke-linejoin=\"round\"/>\n",
            xml_escape(panel.series[i].label), points, style.color);
        std::string bars;
        for (const Placed& p : placed[i]) {
            if (p.point->err == 0) continue;
            bars += fmt::format("M{} {}V{}M{} {}H{}M{} {}H{}", px(p.x), px(p.lo), px(p.hi),
                                px(p.x - 3.5), px(p.lo), px(p.x + 3.5), px(p.x - 3.5), px(p.hi),
                                px(p.x + 3.5));
        }
        if (!bars.empty()) {
            out += fmt::format(
                "<path class=\"errorbar\" d=\"{}\" fill=\"none\" stroke=\"{}\" "
                "stroke-width=\"1.3\"/>\n",
                bars, style.color);
        }
    }
    out += "</g>\n";
    for (size_t i = 0; i < panel.series.size(); ++i) {
        const SeriesStyle& style = styles.at(panel.series[i].label);
        for (const Placed& p : placed[i]) {
            if (p.y < y0 - 1 || p.y > y1 + 1) continue;  // off the plot: its line is clipped
            std::string tip = fmt::format("{}: x={}, y={}", panel.series[i].label,
                                          format_tick(p.point->x), format_tick(p.point->y));
            if (p.point->err != 0) tip += fmt::format(" ± {}", format_tick(std::abs(p.point->err)));
            out += marker_svg(style.marker, p.x, p.y, style.color, tip) + "\n";
        }
    }
    if (!any_data) {
        out += text_svg((x0 + x1) / 2, (y0 + y1) / 2, "no data",
                        "text-anchor=\"middle\" fill=\"#999999\"");
    }
    out += fmt::format(
        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#888888\"/>\n",
        px(x0), px(y0), px(x1 - x0), px(y1 - y0));
    out += "</g>\n";
    return out;
}

// Viridis, sampled at nine points: perceptually even and readable in grey.
constexpr std::array<std::array<int, 3>, 9> kViridis = {{{68, 1, 84},
                                                         {71, 44, 122},
                                                         {59, 82, 139},
                                                         {44, 114, 142},
                                                         {33, 145, 140},
                                                         {40, 174, 128},
                                                         {94, 201, 98},
                                                         {173, 220, 48},
                                                         {253, 231, 37}}};

std::string colormap(double t) {
    t = std::clamp(t, 0.0, 1.0) * static_cast<double>(kViridis.size() - 1);
    const size_t i = std::min(static_cast<size_t>(t), kViridis.size() - 2);
    const double f = t - static_cast<double>(i);
    std::array<int, 3> c{};
    for (size_t k = 0; k < 3; ++k) {
        c[k] = static_cast<int>(std::lround(kViridis[i][k] * (1 - f) + kViridis[i + 1][k] * f));
    }
    return fmt::format("#{:02x}{:02x}{:02x}", c[0], c[1], c[2]);
}

// Where `v` falls on the colour scale of `figure`, 0..1.
double color_position(const HeatmapFigure& figure, double v) {
    if (figure.log_color) {
        const double lo = std::log(std::max(figure.color_min, 1e-300));
        const double hi = std::log(std::max(figure.color_max, 1e-300));
        if (!(hi > lo)) return 1;
        return (std::log(std::max(v, 1e-300)) - lo) / (hi - lo);
    }
    if (!(figure.color_max > figure.color_min)) return 1;
    return (v - figure.color_min) / (figure.color_max - figure.color_min);
}

}  // namespace

const std::vector<std::string>& plot_palette() {
    static const std::vector<std::string> palette = {"#4e79a7", "#f28e2b", "#e15759", "#59a14f",
                                                     "#b07aa1", "#76b7b2", "#edc948", "#ff9da7",
                                                     "#9c755f", "#bab0ac"};
    return palette;
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
    if (!std::isfinite(lo) || !std::isfinite(hi)) return {};
    if (hi < lo) std::swap(lo, hi);
    if (hi == lo) return {lo};
    const double step = nice_step((hi - lo) / std::max(1, target - 1));
    std::vector<double> ticks;
    for (double k = std::ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k += 1) {
        const double v = k * step;
        ticks.push_back(std::abs(v) < step * 1e-9 ? 0.0 : v);
    }
    return ticks;
}

std::string format_tick(double value) {
    if (!std::isfinite(value)) return "";
    if (std::abs(value) < 1e15 &&
        std::abs(value - std::round(value)) <= 1e-9 * std::max(1.0, std::abs(value))) {
        const double r = std::round(value);
        return fmt::format("{:.0f}", r == 0 ? 0.0 : r);
    }
    return fmt::format("{:.4g}", value);
}

std::string xml_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&apos;";
                break;
            default:
                // Control characters are not allowed in XML 1.0 text.
                if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') {
                    out += ' ';
                } else {
                    out += c;
                }
        }
    }
    return out;
}

std::string render_line_figure(const LineFigure& figure) {
    // One style per label across all panels, so a policy looks the same everywhere.
    std::vector<LegendEntry> legend;
    std::map<std::string, SeriesStyle> styles;
    std::map<std::string, std::string> hline_colors;
    size_t next_color = 0;
    int next_marker = 0;
    for (const LinePanel& panel : figure.panels) {
        for (const PlotSeries& s : panel.series) {
            if (styles.count(s.label)) continue;
            SeriesStyle style;
            style.color =
                !s.color.empty() ? s.color : plot_palette()[next_color++ % plot_palette().size()];
            style.marker = next_marker++;
            styles[s.label] = style;
            legend.push_back({s.label, style.color, style.marker, false});
        }
    }
    for (const LinePanel& panel : figure.panels) {
        for (const PlotHLine& h : panel.hlines) {
            if (hline_colors.count(h.label)) continue;
            hline_colors[h.label] = h.color.empty() ? "#333333" : h.color;
            legend.push_back({h.label, hline_colors[h.label], 0, true});
        }
    }

    const size_t n = std::max<size_t>(1, figure.panels.size());
    const size_t columns =
        figure.columns > 0 ? static_cast<size_t>(figure.columns) : std::min<size_t>(n, 3);
    const size_t rows = (n + columns - 1) / columns;
    const double pad = 10;
    const double width = static_cast<double>(columns) * figure.panel_width + 2 * pad;

    std::string body;
    double top = 12;
    if (!figure.title.empty()) {
        body += text_svg(width / 2, top + 17, figure.title,
                         "text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\"");
        top += 28;
    }
    if (!legend.empty()) {
        int legend_rows = 0;
        body += legend_svg(legend, width / 2, top, width - 40, &legend_rows);
        top += kLegendRowHeight * legend_rows + 6;
    }
    for (size_t i = 0; i < figure.panels.size(); ++i) {
        const double left = pad + static_cast<double>(i % columns) * figure.panel_width;
        const double panel_top = top + static_cast<double>(i / columns) * figure.panel_height;
        body += line_panel_svg(figure.panels[i], left, panel_top, figure.panel_width,
                               figure.panel_height, styles, hline_colors, static_cast<int>(i),
                               figure.dodge);
    }
    const double height = top + static_cast<double>(rows) * figure.panel_height + pad;
    return svg_open(width, height) + body + "</svg>\n";
}

std::string render_heatmap_figure(const HeatmapFigure& figure) {
    const size_t n = std::max<size_t>(1, figure.panels.size());
    const size_t columns =
        figure.columns > 0 ? static_cast<size_t>(figure.columns) : std::min<size_t>(n, 2);
    const size_t rows = (n + columns - 1) / columns;
    const double pad = 10;
    const double bar_space = 96;  // colour bar, its ticks and its label
    const double width = static_cast<double>(columns) * figure.panel_width + 2 * pad + bar_space;
    constexpr double kLeft = 56, kRight = 12, kTop = 30, kBottom = 48;

    std::string body;
    double top = 12;
    if (!figure.title.empty()) {
        body += text_svg((width - bar_space) / 2, top + 17, figure.title,
                         "text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\"");
        top += 34;
    }
    for (size_t i = 0; i < figure.panels.size(); ++i) {
        const HeatmapPanel& panel = figure.panels[i];
        const double left = pad + static_cast<double>(i % columns) * figure.panel_width;
        const double ptop = top + static_cast<double>(i / columns) * figure.panel_height;
        const double x0 = left + kLeft, x1 = left + figure.panel_width - kRight;
        const double y0 = ptop + kTop, y1 = ptop + figure.panel_height - kBottom;

        // The x range is the span of the edges themselves: no padding, no rounding.
        PlotAxis x_axis = panel.x;
        std::vector<double> edges_in_domain;
        for (double e : panel.x_edges) {
            if (in_domain(x_axis.scale, e)) edges_in_domain.push_back(e);
        }
        if (!edges_in_domain.empty()) {
            if (!in_domain(x_axis.scale, x_axis.min)) x_axis.min = edges_in_domain.front();
            if (!in_domain(x_axis.scale, x_axis.max)) x_axis.max = edges_in_domain.back();
        }
        AxisMap xm = fit_axis(x_axis, edges_in_domain, false);
        xm.p_lo = x0;
        xm.p_hi = x1;

        const size_t n_rows = panel.values.size();
        const double row_h = n_rows > 0 ? (y1 - y0) / static_cast<double>(n_rows) : 0;
        body += "<g class=\"panel\">\n";
        body += text_svg((x0 + x1) / 2, ptop + 19, panel.title,
                         "text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\"");
        body +=
            fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#f2f2f2\"/>\n",
                        px(x0), px(y0), px(x1 - x0), px(y1 - y0));
        body += "<g class=\"cells\" shape-rendering=\"crispEdges\">\n";
        for (size_t r = 0; r < n_rows; ++r) {
            const std::vector<double>& row = panel.values[r];
            for (size_t b = 0; b < row.size() && b + 1 < panel.x_edges.size(); ++b) {
                const double v = row[b];
                const double e0 = panel.x_edges[b], e1 = panel.x_edges[b + 1];
                if (!(v > 0) || !std::isfinite(v)) continue;
                if (!in_domain(x_axis.scale, e0) || !in_domain(x_axis.scale, e1)) continue;
                const double a = std::clamp(xm(e0), x0, x1), c = std::clamp(xm(e1), x0, x1);
                if (c <= a) continue;
                body += fmt::format(
                    "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"/>\n", px(a),
                    px(y0 + row_h * static_cast<double>(r)), px(c - a), px(row_h + 0.05),
                    colormap(color_position(figure, v)));
            }
        }
        body += "</g>\n";
        // Row labels, thinned to at most about a dozen.
        const size_t stride = std::max<size_t>(1, (n_rows + 11) / 12);
        for (size_t r = 0; r < n_rows && r < panel.row_labels.size(); r += stride) {
            body += text_svg(x0 - 6, y0 + row_h * (static_cast<double>(r) + 0.5) + 4,
                             panel.row_labels[r], "text-anchor=\"end\" font-size=\"11\"");
        }
        AxisMap ym;  // only for the axis label; rows are labelled above
        ym.p_lo = y1;
        ym.p_hi = y0;
        PlotAxis y_axis;
        y_axis.label = panel.y_label;
        body += axes_svg(xm, ym, x_axis, y_axis, left, ptop + figure.panel_height, false);
        body += fmt::format(
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" "
            "stroke=\"#888888\"/>\n",
            px(x0), px(y0), px(x1 - x0), px(y1 - y0));
        body += "</g>\n";
    }

    // The colour bar, beside the first row of panels.
    const double bar_x = width - bar_space + 8;
    const double bar_top = top + kTop;
    const double bar_bottom = top + figure.panel_height - kBottom;
    body += "<defs><linearGradient id=\"colorbar\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">\n";
    for (size_t k = 0; k < kViridis.size(); ++k) {
        const double t = static_cast<double>(k) / static_cast<double>(kViridis.size() - 1);
        body += fmt::format("<stop offset=\"{:.3f}\" stop-color=\"{}\"/>\n", t, colormap(t));
    }
    body += "</linearGradient></defs>\n";
    body += fmt::format(
        "<rect class=\"colorbar\" x=\"{}\" y=\"{}\" width=\"14\" height=\"{}\" "
        "fill=\"url(#colorbar)\" stroke=\"#888888\"/>\n",
        px(bar_x), px(bar_top), px(bar_bottom - bar_top));
    std::vector<std::pair<double, std::string>> ticks = figure.color_ticks;
    if (ticks.empty()) {
        if (figure.log_color && figure.color_min > 0 && figure.color_max > figure.color_min) {
            for (double k = std::ceil(std::log10(figure.color_min) - 1e-9);
                 k <= std::log10(figure.color_max) + 1e-9; k += 1) {
                const double v = std::pow(10.0, k);
                ticks.emplace_back(v, format_tick(v));
            }
        } else {
            for (double v : nice_ticks(figure.color_min, figure.color_max, 5)) {
                ticks.emplace_back(v, format_tick(v));
            }
        }
    }
    for (const auto& [v, label] : ticks) {
        const double t = color_position(figure, v);
        if (t < -1e-9 || t > 1 + 1e-9) continue;
        const double y = bar_bottom - t * (bar_bottom - bar_top);
        body += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#888888\"/>\n",
                            px(bar_x + 14), px(y), px(bar_x + 18), px(y));
        body += text_svg(bar_x + 21, y + 4, label, "font-size=\"11\"");
    }
    if (!figure.color_label.empty()) {
        body += fmt::format(
            "<text transform=\"translate({},{}) rotate(-90)\" text-anchor=\"middle\" "
            "font-size=\"11\">{}</text>\n",
            px(width - 12), px((bar_top + bar_bottom) / 2), xml_escape(figure.color_label));
    }
    const double height = top + static_cast<double>(rows) * figure.panel_height + pad;
    return svg_open(width, height) + body + "</svg>\n";
}

}  // namespace vase
