//! `faultline campaign`: shards and merges (with a stand-in runner), the JUnit file against
//! the schema Jenkins consumes and read back by a real JUnit consumer, the CI examples, and a
//! short real campaign that is interrupted, resumed, split into shards and merged.

mod examples;
mod junit;
mod real;
mod shards;
