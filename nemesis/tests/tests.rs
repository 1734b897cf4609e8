//! Integration tests of faultline-nemesis against real processes (one test binary, as in
//! ripgrep's `tests/tests.rs`). Tests that need root or an absent binary print why they
//! skip and return.

mod etcd;
mod faultline;
mod util;
