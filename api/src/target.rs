//! What is tested and where: the system under test ([`SystemKind`]) and the backend its
//! nodes run on ([`Backend`]). A leaf of the crate: the fault table, the run settings and
//! the node's names all read these, and these read nothing of theirs.

crate::names! {
    /// The system under test.
    pub enum SystemKind ("system") {
        /// faultline's own Raft/KV node.
        Faultline = "faultline",
        /// etcd 3.4, through its HTTP/JSON gateway.
        Etcd = "etcd",
        /// faultline's sharded KV: a shard controller group and `--groups` replica groups.
        Sharded = "sharded",
        /// Any program speaking Maelstrom's node protocol (`--node-cmd`), faultline its
        /// network; the lin-kv workload (register, cas-register).
        Maelstrom = "maelstrom",
    }
}

crate::names! {
    /// How node-to-node traffic is carried and cut.
    pub enum Backend ("backend") {
        /// No root: nodes on 127.0.0.1 ports, every node-to-node link through a TCP proxy
        /// owned by the controller; partitions close and refuse proxied connections.
        Local = "local",
        /// Linux, root: one network namespace and IP per node on a bridge; partitions and
        /// packet loss by iptables rules inside the namespaces.
        Netns = "netns",
        /// Your machines over SSH (`--hosts FILE.toml`): one node per host; partitions and
        /// packet loss by iptables chains of faultline's own on the hosts.
        Ssh = "ssh",
    }
}

// `names!` enums cannot carry `#[default]`, so the defaults are written here.
#[allow(clippy::derivable_impls)]
impl Default for SystemKind {
    fn default() -> Self {
        SystemKind::Faultline
    }
}

#[allow(clippy::derivable_impls)]
impl Default for Backend {
    fn default() -> Self {
        Backend::Local
    }
}
