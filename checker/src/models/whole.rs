//! [`Whole`] lifts a one-key model to a map of keys, so a history can be checked without
//! partitioning (as Porcupine's `kvNoPartitionModel`). Keys absent from the state hold the
//! inner model's initial value; the canonical form leaves them out, so equal maps are equal.

use rustc_hash::FxHashMap;

use crate::history::Operation;
use crate::model::Model;

/// A model of many independent keys, each following `M`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Whole<M>(pub M);

/// Per-key hints of the inner model.
pub struct WholeHints<H> {
    per_key: FxHashMap<String, H>,
    empty: H,
}

/// The map state: `(key, state)` sorted by key; keys at their initial state are left out.
pub type WholeState<S> = Vec<(String, S)>;

impl<M: Model> Whole<M> {
    fn key_hints<'a>(&self, h: &'a WholeHints<M::Hints>, key: &str) -> &'a M::Hints {
        h.per_key.get(key).unwrap_or(&h.empty)
    }
}

impl<M: Model> Model for Whole<M> {
    type State = WholeState<M::State>;
    type Input = (String, M::Input);
    type Output = M::Output;
    type Hints = WholeHints<M::Hints>;

    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn init(&self) -> Self::State {
        Vec::new()
    }

    fn convert(&self, op: &Operation) -> Result<Option<(Self::Input, Option<M::Output>)>, String> {
        let key = op.key.clone().unwrap_or_default();
        Ok(self.0.convert(op)?.map(|(i, o)| ((key, i), o)))
    }

    fn step(
        &self,
        s: &Self::State,
        (key, input): &Self::Input,
        out: Option<&M::Output>,
    ) -> Option<Self::State> {
        let pos = s.binary_search_by(|(k, _)| k.as_str().cmp(key));
        let init;
        let cur = match pos {
            Ok(i) => &s[i].1,
            Err(_) => {
                init = self.0.init();
                &init
            }
        };
        let next = self.0.step(cur, input, out)?;
        let mut n = s.clone();
        match pos {
            Ok(i) => n[i].1 = next,
            Err(i) => n.insert(i, (key.clone(), next)),
        }
        Some(n)
    }

    fn hints(&self, ops: &[(Self::Input, Option<M::Output>)]) -> Self::Hints {
        type Ops<M> = Vec<(<M as Model>::Input, Option<<M as Model>::Output>)>;
        let mut by_key: FxHashMap<String, Ops<M>> = FxHashMap::default();
        for ((k, i), o) in ops {
            by_key.entry(k.clone()).or_default().push((i.clone(), o.clone()));
        }
        WholeHints {
            per_key: by_key.into_iter().map(|(k, ops)| (k, self.0.hints(&ops))).collect(),
            empty: self.0.hints(&[]),
        }
    }

    fn canonical(&self, h: &Self::Hints, s: Self::State) -> Self::State {
        s.into_iter()
            .filter_map(|(k, v)| {
                let kh = self.key_hints(h, &k);
                let v = self.0.canonical(kh, v);
                (v != self.0.canonical(kh, self.0.init())).then_some((k, v))
            })
            .collect()
    }

    fn droppable(&self, h: &Self::Hints, (key, input): &Self::Input) -> bool {
        self.0.droppable(self.key_hints(h, key), input)
    }

    fn is_observer(&self, (_, input): &Self::Input, out: Option<&M::Output>) -> bool {
        // The key's state is kept (or refused), and the canonical form makes the map equal.
        self.0.is_observer(input, out)
    }

    fn describe_op(&self, (key, input): &Self::Input, out: Option<&M::Output>) -> String {
        format!("{key:?}: {}", self.0.describe_op(input, out))
    }

    fn describe_state(&self, s: &Self::State) -> String {
        let inner: Vec<String> =
            s.iter().map(|(k, v)| format!("{k:?}: {}", self.0.describe_state(v))).collect();
        format!("{{{}}} (other keys initial)", inner.join(", "))
    }

    fn explain(
        &self,
        s: &Self::State,
        (key, input): &Self::Input,
        out: Option<&M::Output>,
    ) -> String {
        let init = self.0.init();
        let cur = s.iter().find(|(k, _)| k == key).map_or(&init, |(_, v)| v);
        format!("key {key:?}: {}", self.0.explain(cur, input, out))
    }
}
