//! faultline-workloads: generators, clients and the history recorder.
//!
//! Being built (issue 4): register, cas-register and kv workloads, one client per system that
//! classifies every response as ok, fail or info, and a recorder that streams `history.jsonl`.
