//! Throwaway servers stop when the process is interrupted too. Their `Drop` stops them on any
//! normal exit, but Ctrl-C (SIGINT) or SIGTERM ends the process without unwinding: the server
//! kept running on its port and its files stayed in the temp dir. Each server registers how
//! to stop it; the first signal stops every registered one (on a thread of its own, where
//! starting `pg_ctl` is safe), then the process exits with 130 as a shell expects. The main
//! thread, meanwhile failing on the servers going away, waits for that in [`finished`]
//! instead of exiting half-way through it.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, Once};

type Stop = Box<dyn FnOnce() + Send>;

static STOPS: Mutex<Vec<(u64, Stop)>> = Mutex::new(Vec::new());
static NEXT: AtomicU64 = AtomicU64::new(1);
static HANDLER: Once = Once::new();
static INTERRUPTED: AtomicBool = AtomicBool::new(false);
/// Held while the servers are being stopped after a signal.
static STOPPING: Mutex<()> = Mutex::new(());

/// Registers how to stop a server; the id unregisters it when the server stops itself.
pub fn register(stop: Stop) -> u64 {
    HANDLER.call_once(|| {
        // A program with its own handler keeps it: `set_handler` then fails, and its
        // servers stop as the program decides.
        let _ = ctrlc::set_handler(|| {
            let _stopping = STOPPING.lock();
            if INTERRUPTED.swap(true, Ordering::SeqCst) {
                return; // a second signal (`timeout` sends one to the group too)
            }
            eprintln!("interrupted: stopping the throwaway servers");
            stop_all();
            std::process::exit(130);
        });
    });
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    if let Ok(mut stops) = STOPS.lock() {
        stops.push((id, stop));
    }
    id
}

pub fn unregister(id: u64) {
    if let Ok(mut stops) = STOPS.lock() {
        stops.retain(|(i, _)| *i != id);
    }
}

/// The exit code to end with: after a signal, 130 once the servers are stopped (the command's
/// own errors then come from their going away).
pub fn finished(code: ExitCode) -> ExitCode {
    if INTERRUPTED.load(Ordering::SeqCst) {
        let _stopped = STOPPING.lock();
        return ExitCode::from(130);
    }
    code
}

/// Stops every registered server.
pub fn stop_all() {
    let stops = match STOPS.lock() {
        Ok(mut stops) => std::mem::take(&mut *stops),
        Err(_) => return,
    };
    for (_, stop) in stops {
        stop();
    }
}
