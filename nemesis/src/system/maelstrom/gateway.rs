//! The client gateway of one node: a TCP listener on 127.0.0.1 where each connection is one
//! Maelstrom client (`c1`, `c2`, ..). A connection sends `GatewayRequest` lines; each body
//! goes to the node with `msg_id` = the request's `id`, and the node's reply comes back as a
//! `GatewayReply` line. A node that is not running answers error 11 at once; a node that
//! never answers gets no reply (the client's own timeout decides).
//!
//! ```text
//!  TCP line {id, body} ─▶ router.route_from_client(cK, node, body{msg_id: id}) ─▶ node stdin
//!  node stdout {dest: cK, in_reply_to: id} ─▶ router ─▶ this connection ─▶ TCP line {id, body}
//! ```

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use faultline_api::maelstrom::{GatewayReply, GatewayRequest, MAX_LINE};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::lines::{self, Line};
use super::router::Router;

/// Binds node `i`'s gateway on a free 127.0.0.1 port and serves it until the task is
/// aborted.
///
/// # Errors
/// The port could not be bound.
pub(crate) async fn bind(
    router: Arc<Router>,
    i: usize,
) -> std::io::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((conn, _)) => {
                    let _ = conn.set_nodelay(true);
                    tokio::spawn(serve(router.clone(), i, conn));
                }
                Err(e) => tracing::warn!("gateway accept: {e}"),
            }
        }
    });
    Ok((addr, task))
}

/// One client connection.
async fn serve(router: Arc<Router>, i: usize, conn: TcpStream) {
    let (read, mut write) = conn.into_split();
    let (client, tx, mut replies) = router.register_client();
    let writer = tokio::spawn(async move {
        while let Some(body) = replies.recv().await {
            let Some(id) = body.in_reply_to else { continue };
            let Ok(mut line) = serde_json::to_string(&GatewayReply { id, body }) else { continue };
            line.push('\n');
            if write.write_all(line.as_bytes()).await.is_err() {
                return;
            }
        }
    });
    let mut r = tokio::io::BufReader::new(read);
    loop {
        let req = match lines::read_line(&mut r, MAX_LINE).await {
            Ok(Line::Text(t)) => serde_json::from_str::<GatewayRequest>(&t)
                .map_err(|e| format!("{e}: {}", faultline_api::cut(&t, 200))),
            Ok(Line::TooLong(_, n)) => Err(format!("a request line of {n} bytes")),
            Ok(Line::Eof) | Err(_) => break,
        };
        let req = match req {
            Ok(r) => r,
            Err(why) => {
                tracing::warn!(client, "gateway: bad request, closing: {why}");
                break;
            }
        };
        let mut body = req.body;
        body.msg_id = Some(req.id);
        body.in_reply_to = None;
        if let Err(refused) = router.route_from_client(&client, i, body) {
            let _ = tx.send(refused);
        }
    }
    router.unregister_client(&client);
    drop(tx);
    let _ = writer.await;
}
