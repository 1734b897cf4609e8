//! Integration tests of faultline-nemesis against real processes (one test binary, as in
//! ripgrep's `tests/tests.rs`). Tests that need root or an absent binary print why they
//! skip and return.

#![allow(clippy::disallowed_methods)] // real processes, real sockets, real time
mod cleanup;
mod etcd;
mod faultline;
mod powerfs;
mod soak;
mod util;
