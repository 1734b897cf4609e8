//! Integration tests of real `faultline-node` processes on loopback (one test binary, as
//! ripgrep does: `autotests = false`).
//!
//! Run: `cargo test -p faultline-node --release --test tests`.

mod cluster;
mod sharded;
mod util;
