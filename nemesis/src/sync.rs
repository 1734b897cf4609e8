//! Locking that survives a panic elsewhere: cleanup must run even after a thread panicked
//! while holding a lock.

use std::sync::{Mutex, MutexGuard};

/// Locks a mutex, ignoring poison.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
