//! faultline-node clusters through the nemesis API (once the node binary exists).
