//! The funnel drawn as inline SVG: one centred bar per stage, its width
//! proportional to the count, with the conversion from the stage above.
//! No script, no external asset: the page works offline and under a
//! strict Content-Security-Policy.

use std::fmt::Write;

use super::funnel::Stage;
use super::html::{esc, num};

const WIDTH: u32 = 760;
const ROW: u32 = 46;
const LABEL_W: u32 = 150;
const RATE_W: u32 = 110;
const BAR_H: u32 = 34;
const COLORS: [&str; 5] = ["#a5b4fc", "#818cf8", "#6366f1", "#4f46e5", "#059669"];

/// A stage's name on the page: `report`'s word, capitalised; the first
/// stage says it is the MQLs.
pub(crate) fn stage_title(stage: &Stage) -> String {
    let mut chars = stage.label.chars();
    let word = match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    };
    if stage.key == "qualified" {
        format!("{word} (MQL)")
    } else {
        word
    }
}

/// The SVG element for `stages`.
pub(crate) fn funnel_svg(stages: &[Stage]) -> String {
    let height = ROW * stages.len() as u32 + 8;
    let track = WIDTH - LABEL_W - RATE_W;
    let max = stages.iter().map(|s| s.count).max().unwrap_or(0).max(1);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="funnel" role="img" aria-label="Lead funnel" viewBox="0 0 {WIDTH} {height}" width="100%" xmlns="http://www.w3.org/2000/svg">"#
    );
    let _ = write!(
        svg,
        r#"<text x="{x}" y="14" class="rate-h" text-anchor="end">conversion</text>"#,
        x = WIDTH - 8
    );
    let mut previous: Option<u64> = None;
    for (i, stage) in stages.iter().enumerate() {
        let y = 18 + ROW * i as u32;
        let mid = y + BAR_H / 2;
        let w = if stage.count == 0 {
            2.0
        } else {
            (track as f64 * stage.count as f64 / max as f64).max(28.0)
        };
        let x = LABEL_W as f64 + (track as f64 - w) / 2.0;
        let color = COLORS[i.min(COLORS.len() - 1)];
        let _ = write!(
            svg,
            r#"<text x="{lx}" y="{ty}" class="stage">{label}</text><rect x="{x:.1}" y="{y}" width="{w:.1}" height="{BAR_H}" rx="5" fill="{color}"><title>{label}: {count}</title></rect>"#,
            lx = 4,
            ty = mid + 5,
            label = esc(&stage_title(stage)),
            count = stage.count,
        );
        let dark = i >= 1 && stage.count > 0;
        let _ = write!(
            svg,
            r#"<text x="{cx:.1}" y="{ty}" class="count{cls}" text-anchor="middle">{n}</text>"#,
            cx = LABEL_W as f64 + track as f64 / 2.0,
            ty = mid + 5,
            cls = if dark { " on-dark" } else { "" },
            n = num(stage.count),
        );
        let rate = match previous {
            None => String::new(),
            Some(0) => "–".to_owned(),
            Some(p) => format!("{:.0} %", 100.0 * stage.count as f64 / p as f64),
        };
        let _ = write!(
            svg,
            r#"<text x="{rx}" y="{ty}" class="rate" text-anchor="end">{rate}</text>"#,
            rx = WIDTH - 8,
            ty = mid + 5,
        );
        previous = Some(stage.count);
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_one_bar_per_stage_with_rates() {
        let stages: Vec<Stage> = crate::report::STAGES
            .iter()
            .zip([8, 4, 2, 1, 0])
            .map(|((key, label), count)| Stage { key, label, count })
            .collect();
        let svg = funnel_svg(&stages);
        assert_eq!(svg.matches("<rect").count(), 5);
        assert!(svg.contains(">50 %<"), "{svg}");
        assert!(
            svg.contains(">Qualified (MQL)<") && svg.contains(">Handed off<"),
            "{svg}"
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    }
}
