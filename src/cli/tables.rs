//! Aligned tables for people at a terminal (`dlq list`, `status`): column
//! widths from the content, through `comfy-table`, so a long record id or
//! reason no longer shifts every column after it. No borders and no
//! wrapping, so the lines stay friendly to `grep`, `cut` and `less -S`.

use comfy_table::{presets, CellAlignment, ContentArrangement, Table};

use super::status::PipelineReport;
use crate::state::DlqEntry;

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.to_vec());
    t
}

fn right(t: &mut Table, columns: &[usize]) {
    for &i in columns {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
}

/// Trailing blanks of the padding are dropped: lines end with their text.
fn lines(t: &Table) -> String {
    let mut out = String::new();
    for line in t.lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `dlq list`: one row per dead letter.
pub fn dead_letters(entries: &[DlqEntry]) -> String {
    let mut t = table(&[
        "pipeline",
        "side",
        "record",
        "attempts",
        "first seen",
        "last seen",
        "reason",
    ]);
    for e in entries {
        t.add_row(vec![
            e.pipeline.clone(),
            e.side.as_str().to_owned(),
            e.record_id.clone(),
            e.attempts.to_string(),
            e.first_seen.to_string(),
            e.last_seen.to_string(),
            // One line per entry, whatever the tool's message holds.
            e.reason.replace(['\n', '\r'], " "),
        ]);
    }
    right(&mut t, &[3]);
    lines(&t)
}

/// `status`: one row per pipeline, then each pipeline's cursors and last
/// error (too long for a column) below the table.
pub fn status(reports: &[PipelineReport]) -> String {
    let mut t = table(&[
        "pipeline",
        "last cycle finished",
        "read mkt",
        "read crm",
        "wrote crm",
        "wrote mkt",
        "echoes",
        "dead-lettered",
        "links",
        "dlq",
        "pending",
    ]);
    for r in reports {
        let s = &r.status;
        let c = &s.last_cycle;
        let last = match (&s.last_cycle_started, &s.last_cycle_finished) {
            (_, Some(end)) => end.to_string(),
            (Some(start), None) => format!("running since {start}"),
            (None, None) => "never ran".to_owned(),
        };
        t.add_row(vec![
            r.name.clone(),
            last,
            c.read_marketing.to_string(),
            c.read_crm.to_string(),
            c.written_crm.to_string(),
            c.written_marketing.to_string(),
            c.echoes.to_string(),
            c.dead_lettered.to_string(),
            r.counts.links.to_string(),
            r.counts.dead_letters.to_string(),
            r.counts.pending_intents.to_string(),
        ]);
    }
    right(&mut t, &[2, 3, 4, 5, 6, 7, 8, 9, 10]);
    let mut out = lines(&t);
    out.push_str("(read/wrote/echoes/dead-lettered: the last cycle; links, dlq, pending: now)\n");
    for r in reports {
        let s = &r.status;
        let totals = &s.totals;
        out.push_str(&format!(
            "\npipeline {}: since the start {} written to crm, {} to marketing\n",
            r.name, totals.written_crm, totals.written_marketing
        ));
        if !r.cursors.is_empty() {
            let mut c = table(&["cursor side", "object", "modified at", "id"]);
            for cursor in &r.cursors {
                c.add_row(vec![
                    cursor.side.to_string(),
                    cursor.object.clone(),
                    cursor.cursor.modified_at.to_string(),
                    cursor.cursor.id.clone(),
                ]);
            }
            out.push_str(&lines(&c));
        }
        if let (Some(e), Some(at)) = (&s.last_error, &s.last_error_at) {
            out.push_str(&format!("  last error at {at}: {e}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Side;
    use jiff::Timestamp;

    fn entry(id: &str, reason: &str, attempts: u32) -> DlqEntry {
        let at: Timestamp = "2026-03-02T10:00:00Z".parse().unwrap();
        DlqEntry {
            pipeline: "inbound".into(),
            side: Side::Marketing,
            object: "contacts".into(),
            record_id: id.into(),
            fields: Default::default(),
            reason: reason.into(),
            code: None,
            attempts,
            first_seen: at,
            last_seen: at,
        }
    }

    #[test]
    fn dead_letter_columns_line_up_whatever_their_width() {
        let text = dead_letters(&[
            entry("1", "short", 1),
            entry(
                "123456789012345678901234567890",
                "a much\nlonger reason",
                12,
            ),
        ]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        // Every column starts at the same offset on every line.
        let col = |line: &str, word: &str| line.find(word).unwrap();
        let reason_at = col(lines[0], "reason");
        assert_eq!(col(lines[1], "short"), reason_at, "{text}");
        assert_eq!(col(lines[2], "a much longer reason"), reason_at, "{text}");
        let first_seen = col(lines[0], "first seen");
        assert!(lines[1][first_seen..].starts_with("2026-03-02"), "{text}");
        assert!(lines[2][first_seen..].starts_with("2026-03-02"), "{text}");
        // Attempts are right-aligned under their header.
        let end = col(lines[0], "attempts") + "attempts".len();
        assert!(lines[1][..end].ends_with(" 1"), "{text}");
        assert!(lines[2][..end].ends_with(" 12"), "{text}");
    }
}
