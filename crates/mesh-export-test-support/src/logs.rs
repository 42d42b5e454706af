//! Log capture for tests: one process-wide subscriber, each event credited to the capture whose
//! span it runs in.
//!
//! Why not a scoped subscriber (`tracing::subscriber::set_default`): it sees only the events of
//! the thread that installed it, so a multi-threaded runtime loses every event polled on another
//! worker; and tracing caches each callsite's interest for the whole process. While exactly one
//! dispatcher exists, a callsite first reached on another thread (a parallel test) is judged by
//! *that* thread's default, which is no subscriber, and is cached as "never": the capturing test
//! then never sees that event again. That made the secrets test fail most runs on two cores.
//!
//! Here one global subscriber enables every level on every thread, so a callsite's interest is
//! the same wherever it is first reached; each [`LogCapture`] runs its future inside a
//! `log_capture` span, and an event is credited to the capture found in its span scope, on
//! whatever thread it happens. Events outside any capture (spawned tasks that do not carry the
//! span) are kept in the process log, [`process_text`], so a "never logged" assertion can cover
//! everything the process wrote.
//!
//! Never mix this with `set_default` in the same test binary.

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use tracing::field::{Field, Visit};
use tracing::instrument::Instrumented;
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Instrument, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;

/// The target and name of the span that marks a capture.
const CAPTURE_TARGET: &str = "mesh_export_test_support::logs";
const CAPTURE_SPAN: &str = "log_capture";
const CAPTURE_FIELD: &str = "capture_id";

type Buffer = Arc<Mutex<String>>;

/// Everything the process logged, and the buffer of each live capture by id.
#[derive(Default)]
struct Sink {
    process: Mutex<String>,
    captures: Mutex<HashMap<u64, Buffer>>,
}

fn sink() -> &'static Sink {
    static SINK: OnceLock<Sink> = OnceLock::new();
    SINK.get_or_init(Sink::default)
}

/// Installs the process-wide capture subscriber once.
///
/// The emulator's own logs are left out: tests assert what the client side writes.
pub fn install() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let layer = CaptureLayer.with_filter(tracing_subscriber::filter::filter_fn(|meta| {
            !meta.target().starts_with("mesh_export_emulator")
        }));
        tracing_subscriber::registry()
            .with(layer)
            .try_init()
            .expect("no other global tracing subscriber in a test binary that captures logs");
    });
    // A callsite whose registration raced with the installation may have cached "never";
    // recomputing every interest against the now-global subscriber repairs it.
    tracing::callsite::rebuild_interest_cache();
}

/// Everything logged in this process so far, by every test, captured or not.
pub fn process_text() -> String {
    sink().process.lock().unwrap().clone()
}

/// The log lines of one test.
///
/// ```no_run
/// # async fn run() {
/// let logs = mesh_export_test_support::logs::LogCapture::start();
/// logs.scope(async {
///     tracing::info!("inside");
/// })
/// .await;
/// assert!(logs.text().contains("inside"));
/// # }
/// ```
pub struct LogCapture {
    id: u64,
    buffer: Buffer,
}

impl LogCapture {
    /// Installs the capture subscriber if needed and opens an empty capture.
    pub fn start() -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        install();
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let buffer = Buffer::default();
        sink().captures.lock().unwrap().insert(id, buffer.clone());
        Self { id, buffer }
    }

    /// Runs `future` inside this capture: every event in its span scope lands here.
    pub fn scope<F: Future>(&self, future: F) -> Instrumented<F> {
        future.instrument(tracing::info_span!(
            target: CAPTURE_TARGET,
            CAPTURE_SPAN,
            capture_id = self.id
        ))
    }

    /// The lines captured so far, one event a line.
    pub fn text(&self) -> String {
        self.buffer.lock().unwrap().clone()
    }
}

impl Drop for LogCapture {
    fn drop(&mut self) {
        sink().captures.lock().unwrap().remove(&self.id);
    }
}

/// The formatted fields of a span, kept in its extensions.
struct SpanFields(String);

/// The capture a `log_capture` span stands for, kept in its extensions.
struct CaptureOf(Buffer);

struct CaptureLayer;

impl<S> Layer<S> for CaptureLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields = FieldWriter::default();
        attrs.record(&mut fields);
        let mut extensions = span.extensions_mut();
        if attrs.metadata().target() == CAPTURE_TARGET && attrs.metadata().name() == CAPTURE_SPAN {
            let buffer = fields
                .capture_id
                .and_then(|id| sink().captures.lock().unwrap().get(&id).cloned());
            if let Some(buffer) = buffer {
                extensions.insert(CaptureOf(buffer));
            }
        }
        extensions.insert(SpanFields(fields.text));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields = FieldWriter::default();
        values.record(&mut fields);
        let mut extensions = span.extensions_mut();
        match extensions.get_mut::<SpanFields>() {
            Some(existing) => existing.0.push_str(&fields.text),
            None => extensions.insert(SpanFields(fields.text)),
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        let mut line = format!("{} {}:", meta.level(), meta.target());
        let mut capture = None;
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                let extensions = span.extensions();
                if let Some(CaptureOf(buffer)) = extensions.get::<CaptureOf>() {
                    capture = Some(buffer.clone());
                    continue;
                }
                let fields = extensions.get::<SpanFields>().map_or("", |f| f.0.as_str());
                let _ = write!(line, " {}{{{}}}:", span.name(), fields.trim_start());
            }
        }
        let mut fields = FieldWriter::default();
        event.record(&mut fields);
        line.push_str(&fields.text);
        line.push('\n');
        if let Some(buffer) = capture {
            buffer.lock().unwrap().push_str(&line);
        }
        sink().process.lock().unwrap().push_str(&line);
    }
}

/// Formats fields as ` message key=value ...`, strings quoted as `Debug` quotes them.
#[derive(Default)]
struct FieldWriter {
    text: String,
    capture_id: Option<u64>,
}

impl Visit for FieldWriter {
    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == CAPTURE_FIELD {
            self.capture_id = Some(value);
        }
        self.record_debug(field, &value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.text, " {value:?}");
        } else {
            let _ = write!(self.text, " {}={value:?}", field.name());
        }
    }
}
