//! KV linearizability tests.
