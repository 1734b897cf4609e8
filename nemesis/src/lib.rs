//! faultline-nemesis: cluster lifecycle and faults.
//!
//! Being built (issue 4): the `System` interface (faultline nodes, etcd), the `local` (TCP
//! proxies) and `netns` (namespaces + iptables) backends, and the seeded fault schedule.
