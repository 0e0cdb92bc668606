//! Logging: human lines on a terminal, JSON lines otherwise, and the
//! journal's priorities under systemd.
//!
//! **Priorities.** Under systemd, stderr is a stream into journald
//! (`$JOURNAL_STREAM` names it as `device:inode`). journald reads a
//! `<N>` syslog prefix at the start of a line as that line's priority
//! (`SyslogLevelPrefix=`, on by default) and strips it, so each line is
//! prefixed with its level's priority — error `<3>`, warn `<4>`, info
//! `<6>`, debug and trace `<7>` — and `journalctl -u leadbridge -p err`
//! shows the errors. Without the prefix every line was priority 6 (info).
//! This needs no journald client library and keeps the JSON in MESSAGE;
//! the prefix is only written when stderr *is* the stream systemd named
//! (the device and inode match), never on a terminal or a pipe.
//!
//! **JSON.** One object per line: `timestamp`, `level`, `target`,
//! `message`, the event's fields, and one `span` object (the innermost
//! span's `name` with the fields of every span it is in, inner ones
//! winning), instead of tracing-subscriber's `span` plus `spans` list that
//! repeated the same fields. A field logged with `?` whose debug text is a
//! list (`["a", "b"]`, or a set's `{"a", "b"}`) is written as a JSON array,
//! a map as an object, rather than as a string holding Rust's debug text.

use std::fmt;
use std::io::IsTerminal;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

use crate::config::LogFormat;

/// Starts logging: human-readable on a terminal, JSON lines otherwise (the
/// journal), or as the config says. `RUST_LOG` narrows or widens it.
pub fn init_logging(format: LogFormat, default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Human => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let journal = stderr_is_the_journal();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder
            .fmt_fields(JsonFields)
            .event_format(Prioritized {
                journal,
                inner: JsonLine,
            })
            .try_init()
    } else {
        builder
            .with_ansi(!journal && std::io::stderr().is_terminal())
            .event_format(Prioritized {
                journal,
                inner: tracing_subscriber::fmt::format(),
            })
            .try_init()
    };
}

/// Whether stderr is the journal stream systemd connected
/// (`$JOURNAL_STREAM` = `device:inode` of our stderr), as systemd's
/// documentation of the variable says to check.
pub fn stderr_is_the_journal() -> bool {
    let Ok(stream) = std::env::var("JOURNAL_STREAM") else {
        return false;
    };
    matches_journal_stream(&stream, stderr_identity())
}

fn stderr_identity() -> Option<(u64, u64)> {
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;
    let fd = std::io::stderr().as_fd().try_clone_to_owned().ok()?;
    let meta = std::fs::File::from(fd).metadata().ok()?;
    Some((meta.dev(), meta.ino()))
}

fn matches_journal_stream(stream: &str, stderr: Option<(u64, u64)>) -> bool {
    let Some((dev, ino)) = stream.split_once(':') else {
        return false;
    };
    match (dev.parse::<u64>(), ino.parse::<u64>(), stderr) {
        (Ok(dev), Ok(ino), Some(actual)) => (dev, ino) == actual,
        _ => false,
    }
}

/// The syslog priority of a level, as journald reads it from a `<N>` prefix.
pub fn priority(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        _ => 7,
    }
}

/// An event format that, under the journal, starts the line with the
/// level's `<N>` priority prefix.
struct Prioritized<F> {
    journal: bool,
    inner: F,
}

impl<S, N, F> FormatEvent<S, N> for Prioritized<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        if self.journal {
            write!(writer, "<{}>", priority(event.metadata().level()))?;
        }
        self.inner.format_event(ctx, writer, event)
    }
}

/// Collects fields as JSON values.
#[derive(Default)]
struct JsonVisitor(Map<String, Value>);

/// A debug text as JSON when it is a list, set or map; else as a string.
fn debug_value(text: String) -> Value {
    let t = text.trim();
    if t.starts_with('[') || (t.starts_with('{') && t.contains(':')) {
        if let Ok(v @ (Value::Array(_) | Value::Object(_))) = serde_json::from_str(t) {
            return v;
        }
    }
    if let Some(inner) = t.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
        if let Ok(v @ Value::Array(_)) = serde_json::from_str(&format!("[{inner}]")) {
            return v;
        }
    }
    Value::String(text)
}

impl Visit for JsonVisitor {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let v = if field.name() == "message" {
            Value::String(format!("{value:?}"))
        } else {
            debug_value(format!("{value:?}"))
        };
        self.0.insert(field.name().to_owned(), v);
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0
            .insert(field.name().to_owned(), value.to_string().into());
    }
}

/// Span fields kept as one JSON object (so the event format can merge them).
struct JsonFields;

impl<'writer> FormatFields<'writer> for JsonFields {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        let mut v = JsonVisitor::default();
        fields.record(&mut v);
        write!(writer, "{}", Value::Object(v.0))
    }

    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        let mut v = JsonVisitor(match serde_json::from_str(&current.fields) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        });
        fields.record(&mut v);
        current.fields = Value::Object(v.0).to_string();
        Ok(())
    }
}

/// One JSON object per event (see the module doc).
struct JsonLine;

impl<S> FormatEvent<S, JsonFields> for JsonLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut line = Map::new();
        line.insert(
            "timestamp".into(),
            jiff::Timestamp::now().to_string().into(),
        );
        line.insert("level".into(), meta.level().as_str().into());
        line.insert("target".into(), meta.target().into());
        let mut fields = JsonVisitor::default();
        event.record(&mut fields);
        if let Some(message) = fields.0.remove("message") {
            line.insert("message".into(), message);
        }
        for (k, v) in fields.0 {
            line.entry(k).or_insert(v);
        }
        if let Some(scope) = ctx.event_scope() {
            let mut span = Map::new();
            let mut name = None;
            for s in scope.from_root() {
                name = Some(s.name());
                if let Some(f) = s.extensions().get::<FormattedFields<JsonFields>>() {
                    if let Ok(Value::Object(map)) = serde_json::from_str(&f.fields) {
                        span.extend(map);
                    }
                }
            }
            if let Some(name) = name {
                span.insert("name".into(), name.into());
                line.insert("span".into(), Value::Object(span));
            }
        }
        writeln!(writer, "{}", Value::Object(line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn capture(journal: bool, log: impl FnOnce()) -> Vec<String> {
        let buffer = Buffer::default();
        let out = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || out.clone())
            .with_max_level(Level::DEBUG)
            .fmt_fields(JsonFields)
            .event_format(Prioritized {
                journal,
                inner: JsonLine,
            })
            .finish();
        tracing::subscriber::with_default(subscriber, log);
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        text.lines().map(str::to_owned).collect()
    }

    #[test]
    fn json_lines_have_one_span_object_and_arrays_as_arrays() {
        let lines = capture(false, || {
            let outer = tracing::info_span!("cycle", pipeline = "inbound", dry_run = false);
            let _o = outer.enter();
            let inner = tracing::info_span!("page", number = 3u64);
            let _i = inner.enter();
            let triggered = vec!["inbound".to_owned(), "outbound".to_owned()];
            let set: std::collections::BTreeSet<&str> = ["hubspot"].into();
            tracing::info!(triggered = ?triggered, connectors = ?set, owner = ?Some("u1"), read = 200u64, "webhook received");
        });
        assert_eq!(lines.len(), 1, "{lines:?}");
        let v: Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(v["message"], "webhook received");
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["triggered"], serde_json::json!(["inbound", "outbound"]));
        assert_eq!(v["connectors"], serde_json::json!(["hubspot"]));
        assert_eq!(v["owner"], "Some(\"u1\")");
        assert_eq!(v["read"], 200);
        assert_eq!(
            v["span"],
            serde_json::json!({"name": "page", "pipeline": "inbound", "dry_run": false, "number": 3})
        );
        assert!(v.get("spans").is_none(), "one span field: {v}");
    }

    #[test]
    fn under_the_journal_each_line_starts_with_its_priority() {
        let lines = capture(true, || {
            tracing::error!("cannot start");
            tracing::warn!("rejected");
            tracing::info!("cycle finished");
            tracing::debug!("not handed off");
        });
        let prefixes: Vec<&str> = lines.iter().map(|l| &l[..3]).collect();
        assert_eq!(prefixes, ["<3>", "<4>", "<6>", "<7>"]);
        for l in &lines {
            let v: Value = serde_json::from_str(&l[3..]).unwrap();
            assert!(v["message"].is_string());
        }
        assert!(!capture(false, || tracing::error!("x"))[0].starts_with('<'));
    }

    #[test]
    fn the_journal_is_recognised_by_device_and_inode_only() {
        assert!(matches_journal_stream("8:12345", Some((8, 12345))));
        assert!(!matches_journal_stream("8:12345", Some((8, 12346))));
        assert!(!matches_journal_stream("8:12345", None));
        assert!(!matches_journal_stream("garbage", Some((8, 12345))));
    }
}
