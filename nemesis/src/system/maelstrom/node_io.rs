//! One started node's pipes: a writer task that sends `init` and then drains the node's
//! inbox into its stdin, and a reader task that waits for `init_ok` and then hands every
//! line the node writes to the router.
//!
//! ```text
//!  attach(i) ─▶ router.connect_node(i) ─▶ writer: init, then inbox lines ─▶ stdin
//!             stdout ─▶ reader: before init_ok: init_ok? ready : "nK printed …" (logged)
//!                               after:  message ─▶ router.route_from_node │ else counted
//!                               end:    router.disconnect_node (counted as an exit)
//! ```
//! A restart attaches again: a new generation, `init` again.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use faultline_api::maelstrom::{Body, Message, MAX_LINE};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use super::lines::{self, Line};
use super::router::Router;
use super::stats::Wrong;

/// The `msg_id` of the `init` message, and the client id it comes from.
const INIT_ID: u64 = 0;
const INIT_SRC: &str = "c0";

/// Starts the tasks of a just-started node `i`; `log` is its `node.log`, where a failed
/// handshake is written next to its stderr.
pub(crate) fn attach(
    router: &Arc<Router>,
    i: usize,
    stdin: std::process::ChildStdin,
    stdout: std::process::ChildStdout,
    log: Option<PathBuf>,
) {
    let name = router.names()[i].clone();
    let (stdin, stdout) = match (
        tokio::process::ChildStdin::from_std(stdin),
        tokio::process::ChildStdout::from_std(stdout),
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(node = name, "cannot take the node's pipes: {e}");
            return;
        }
    };
    let (generation, inbox) = router.connect_node(i);
    let mut init = Body::new("init").with("node_id", name.clone()).with(
        "node_ids",
        router.names().iter().cloned().map(serde_json::Value::from).collect::<Vec<_>>(),
    );
    init.msg_id = Some(INIT_ID);
    let init = Message { src: INIT_SRC.into(), dest: name.clone(), body: init };
    tokio::spawn(write(stdin, init, inbox));
    tokio::spawn(read(router.clone(), i, generation, stdout, log));
}

async fn write(
    mut stdin: tokio::process::ChildStdin,
    init: Message,
    mut inbox: mpsc::Receiver<String>,
) {
    let first = serde_json::to_string(&init).unwrap_or_default();
    if stdin.write_all(format!("{first}\n").as_bytes()).await.is_err() {
        return;
    }
    while let Some(mut line) = inbox.recv().await {
        line.push('\n');
        if stdin.write_all(line.as_bytes()).await.is_err() {
            return;
        }
    }
}

async fn read(
    router: Arc<Router>,
    i: usize,
    generation: u64,
    stdout: tokio::process::ChildStdout,
    log: Option<PathBuf>,
) {
    let name = router.names()[i].clone();
    let mut r = tokio::io::BufReader::new(stdout);
    let mut ready = false;
    loop {
        let line = match lines::read_line(&mut r, MAX_LINE).await {
            Ok(Line::Eof) | Err(_) => break,
            Ok(l) => l,
        };
        let parsed = lines::parse(&line);
        match (ready, parsed) {
            (true, Ok(msg)) => router.route_from_node(i, msg),
            (false, Ok(msg)) if is_init_ok(&msg) => {
                ready = true;
                router.set_ready(i, generation);
                tracing::info!(node = name, generation, "init_ok");
            }
            (false, wrong) => {
                let what = match wrong {
                    Ok(msg) => format!(
                        "a message other than init_ok: {}",
                        serde_json::to_string(&msg).unwrap_or_default()
                    ),
                    Err(why) => why,
                };
                let why = format!("{name} answered init with {what}");
                tracing::error!("{}", faultline_api::cut(&why, 400));
                note(log.as_deref(), &why);
                router.misbehaved(Some(i), Wrong::NotAMessage, &what);
            }
            (true, Err(why)) => router.misbehaved(Some(i), Wrong::NotAMessage, &why),
        }
    }
    router.disconnect_node(i, generation);
    router.misbehaved(Some(i), Wrong::Exit, "stdout closed (the node exited or was killed)");
}

fn is_init_ok(m: &Message) -> bool {
    m.body.kind == "init_ok" && m.body.in_reply_to == Some(INIT_ID) && m.dest == INIT_SRC
}

/// Appends a line of faultline's to the node's log, so that it sits next to the node's own
/// output.
fn note(log: Option<&Path>, what: &str) {
    let Some(path) = log else { return };
    if let Ok(mut f) = std::fs::OpenOptions::new().append(true).create(true).open(path) {
        let _ = writeln!(f, "faultline: {}", faultline_api::cut(what, 400));
    }
}
