//! Download progress on stderr: a bar on a terminal, a plain line a second otherwise.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use mesh_export::tiles::Progress;
use tokio::sync::{oneshot, watch};

use super::units::bytes;

/// A running progress display.
pub struct ProgressDisplay {
    stop: oneshot::Sender<Ending>,
    task: tokio::task::JoinHandle<()>,
}

impl ProgressDisplay {
    /// Shows `progress` until [`ProgressDisplay::finish`]: nothing when `silent` (`--json`, `--quiet`), a bar on a
    /// terminal, a line a second otherwise.
    pub fn start(progress: watch::Receiver<Progress>, silent: bool, terminal: bool) -> Self {
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(show_progress(progress, stopped, silent, terminal));
        ProgressDisplay { stop, task }
    }

    /// Draws the last state and stops.
    pub async fn finish(self) {
        let _ = self.stop.send(Ending::Keep);
        let _ = self.task.await;
    }

    /// Stops and clears the bar, so an error printed next is not read as a finished download.
    pub async fn clear(self) {
        let _ = self.stop.send(Ending::Clear);
        let _ = self.task.await;
    }
}

/// How the display ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// The last state stays on screen.
    Keep,
    /// The bar is removed.
    Clear,
}

async fn show_progress(
    mut progress: watch::Receiver<Progress>,
    mut stop: oneshot::Receiver<Ending>,
    silent: bool,
    terminal: bool,
) {
    if silent {
        let _ = stop.await;
        return;
    }
    let started = Instant::now();
    let bar = terminal.then(|| {
        let bar = ProgressBar::new(1);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} files  {msg}  ETA {eta}",
            )
            .expect("a valid template"),
        );
        bar.enable_steady_tick(Duration::from_millis(100));
        super::stderr::drawing(&bar);
        bar
    });
    let mut last_line = Instant::now();
    let mut ending = Ending::Keep;
    loop {
        let done = tokio::select! {
            changed = progress.changed() => changed.is_err(),
            asked = &mut stop => {
                // A display dropped unfinished was interrupted: nothing of it should stay.
                ending = asked.unwrap_or(Ending::Clear);
                true
            }
        };
        let p = progress.borrow_and_update().clone();
        let rate = p.bytes_downloaded as f64 / started.elapsed().as_secs_f64().max(0.001);
        // The limit of files in flight, which an adaptive download finds as it goes.
        let text = format!(
            "{}  {}/s  {} at a time",
            bytes(p.bytes_done),
            bytes(rate as u64),
            p.concurrency
        );
        match &bar {
            Some(bar) => {
                bar.set_length(p.files_total_known.max(1));
                bar.set_position(p.files_done);
                bar.set_message(text);
            }
            None if ending == Ending::Clear => {}
            None if done || last_line.elapsed() >= Duration::from_secs(1) => {
                eprintln!(
                    "downloaded {}/{} files, {text}",
                    p.files_done, p.files_total_known
                );
                last_line = Instant::now();
            }
            None => {}
        }
        if done {
            break;
        }
    }
    if let Some(bar) = bar {
        match ending {
            Ending::Keep => bar.finish(),
            Ending::Clear => bar.finish_and_clear(),
        }
        super::stderr::not_drawing();
    }
}
