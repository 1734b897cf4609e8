//! The [`Model`] trait: a sequential specification the history is checked against.
//!
//! ```text
//!  Operation ──convert──▶ (Input, Option<Output>)      None output = unknown (info)
//!  State ──step(input, output)──▶ Some(State) | None   None = not legal here
//!  whole partition ──hints──▶ Hints ──▶ canonical(state), droppable(op)
//! ```
//!
//! Besides `init` and `step` (as in Porcupine's `Model`), a model may give the search two
//! *exact* simplifications computed from the partition's operations ([`Model::hints`]):
//! - [`Model::canonical`] maps states that no remaining operation can tell apart to one
//!   representative (e.g. every register value that is never read nor compared), so the
//!   search cache merges them;
//! - [`Model::droppable`] says an operation of unknown outcome can be left out, because any
//!   linearization that includes it stays valid without it.
//!
//! Both must preserve the verdict exactly; the tests compare against a brute-force checker.

use std::fmt::Debug;
use std::hash::Hash;

use crate::error::CheckError;
use crate::history::Operation;

/// A sequential specification.
pub trait Model: Send + Sync {
    /// A state of the object.
    type State: Clone + Eq + Hash + Debug + Send + Sync;
    /// What an operation asks (equal inputs with equal outputs are interchangeable: the
    /// search treats such operations as one multiset).
    type Input: Clone + Eq + Hash + Debug + Send + Sync;
    /// What an operation answered (`None` in `step` means unknown).
    type Output: Clone + Eq + Hash + Debug + Send + Sync;
    /// Facts about one partition's operations that the exact simplifications use.
    type Hints: Send + Sync;

    /// The model's name (`register`, `cas-register`, `kv`).
    fn name(&self) -> &'static str;

    /// The initial state.
    fn init(&self) -> Self::State;

    /// Turns a history operation into the model's input and output. `Ok(None)` means the
    /// operation constrains nothing and is left out (e.g. a failed op, a read that timed out).
    ///
    /// # Errors
    /// A message when the operation does not fit the model (unknown `f`, bad value shape).
    #[allow(clippy::type_complexity)]
    fn convert(
        &self,
        op: &Operation,
    ) -> Result<Option<(Self::Input, Option<Self::Output>)>, String>;

    /// The state after `input` answered `output` in `state`, or `None` if that is not legal.
    fn step(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: Option<&Self::Output>,
    ) -> Option<Self::State>;

    /// Computes the hints for one partition.
    fn hints(&self, ops: &[(Self::Input, Option<Self::Output>)]) -> Self::Hints;

    /// The representative of `state`'s class of indistinguishable states.
    fn canonical(&self, hints: &Self::Hints, state: Self::State) -> Self::State;

    /// Whether an operation of unknown outcome can be left out exactly.
    fn droppable(&self, hints: &Self::Hints, input: &Self::Input) -> bool;

    /// Whether the operation only observes: for every state, `step` either refuses it or
    /// returns that same state (a read with its result, a cas that found no match). The search
    /// linearizes such an operation as soon as it is legal, without trying alternatives (see
    /// [`crate::wgl`]). `false` (the default) is always exact.
    fn is_observer(&self, _input: &Self::Input, _output: Option<&Self::Output>) -> bool {
        false
    }

    /// An operation in words, e.g. `write(5)`, `read → 3`, `cas(1→2)`.
    fn describe_op(&self, input: &Self::Input, output: Option<&Self::Output>) -> String;

    /// A state in words.
    fn describe_state(&self, state: &Self::State) -> String;

    /// Why `step` refuses `input`/`output` in `state`, in words.
    fn explain(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: Option<&Self::Output>,
    ) -> String {
        format!(
            "{} is not possible when the state is {}",
            self.describe_op(input, output),
            self.describe_state(state)
        )
    }
}

/// `Model::convert`, with the error located at the operation.
///
/// # Errors
/// [`CheckError::Model`] when the operation does not fit the model.
#[allow(clippy::type_complexity)]
pub(crate) fn convert<M: Model>(
    model: &M,
    op: &Operation,
) -> Result<Option<(M::Input, Option<M::Output>)>, CheckError> {
    model.convert(op).map_err(|message| CheckError::Model {
        op: op.id,
        index: op.invoke_index,
        message,
    })
}
