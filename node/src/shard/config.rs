//! A shard configuration (which replica group owns which shard) and the one function that
//! maps a key to its shard: defined once in `faultline_api::shard` (the clients use them
//! too) and re-exported here for the node's state machines.

pub use faultline_api::shard::{key_shard, Gid, ShardConfig, DEFAULT_SHARDS};
