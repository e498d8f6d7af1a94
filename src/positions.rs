//! Where a run's tool calls and approvals are, so that folding a run costs
//! amortized constant time per event however many calls a server opens.
//! Checked on every use: the lists are public fields a caller may edit, and
//! an index that no longer fits them is built again.

use std::collections::{BTreeSet, HashMap};

/// The positions in one list: the latest item with each id, and the items
/// that may still be waiting for something (a result, more arguments).
#[derive(Clone, Default)]
pub(crate) struct Positions {
    by_id: HashMap<String, usize>,
    waiting: BTreeSet<usize>,
    /// The list's length as this index knows it; another means it was edited.
    len: usize,
}

/// What the index reads of an item: its id. Whether it is waiting is the
/// caller's `waiting` predicate, the same on every call of one index.
pub(crate) trait HasId {
    fn id(&self) -> Option<&str>;
}

impl Positions {
    /// `items` just got its last item pushed.
    pub(crate) fn pushed<T: HasId>(&mut self, items: &[T], waiting: impl Fn(&T) -> bool + Copy) {
        self.sync(&items[..items.len().saturating_sub(1)], waiting);
        if let Some(item) = items.last() {
            self.note(items.len() - 1, item, waiting);
        }
        self.len = items.len();
    }

    /// The item at `index` may be waiting again.
    pub(crate) fn waits(&mut self, index: usize) {
        self.waiting.insert(index);
    }

    /// The latest item with this id.
    pub(crate) fn by_id<T: HasId>(
        &mut self,
        items: &[T],
        id: &str,
        waiting: impl Fn(&T) -> bool + Copy,
    ) -> Option<usize> {
        self.sync(items, waiting);
        let fits = |i: &usize| items.get(*i).is_some_and(|item| item.id() == Some(id));
        match self.by_id.get(id).copied() {
            Some(i) if fits(&i) => Some(i),
            Some(_) => {
                self.rebuild(items, waiting);
                self.by_id.get(id).copied().filter(fits)
            }
            None => None,
        }
    }

    /// The latest item still waiting.
    pub(crate) fn latest_waiting<T: HasId>(
        &mut self,
        items: &[T],
        waiting: impl Fn(&T) -> bool + Copy,
    ) -> Option<usize> {
        self.sync(items, waiting);
        while let Some(&i) = self.waiting.last() {
            if items.get(i).is_some_and(waiting) {
                return Some(i);
            }
            // No longer waiting: never again, unless `waits` says so.
            self.waiting.remove(&i);
        }
        None
    }

    fn note<T: HasId>(&mut self, index: usize, item: &T, waiting: impl Fn(&T) -> bool) {
        if let Some(id) = item.id() {
            self.by_id.insert(id.to_owned(), index);
        }
        if waiting(item) {
            self.waiting.insert(index);
        }
    }

    fn sync<T: HasId>(&mut self, items: &[T], waiting: impl Fn(&T) -> bool + Copy) {
        if self.len != items.len() {
            self.rebuild(items, waiting);
        }
    }

    fn rebuild<T: HasId>(&mut self, items: &[T], waiting: impl Fn(&T) -> bool + Copy) {
        self.by_id.clear();
        self.waiting.clear();
        for (index, item) in items.iter().enumerate() {
            self.note(index, item, waiting);
        }
        self.len = items.len();
    }
}

/// Two runs that said the same are equal whatever their indexes hold.
impl PartialEq for Positions {
    fn eq(&self, _: &Positions) -> bool {
        true
    }
}

impl std::fmt::Debug for Positions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("..")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Item(Option<&'static str>, bool);

    impl HasId for Item {
        fn id(&self) -> Option<&str> {
            self.0
        }
    }

    fn waiting(item: &Item) -> bool {
        item.1
    }

    #[test]
    fn finds_by_id_and_the_latest_waiting_and_survives_edits() {
        let mut items = Vec::new();
        let mut at = Positions::default();
        for item in [
            Item(Some("a"), true),
            Item(None, true),
            Item(Some("b"), false),
        ] {
            items.push(item);
            at.pushed(&items, waiting);
        }
        assert_eq!(at.by_id(&items, "b", waiting), Some(2));
        assert_eq!(at.by_id(&items, "zz", waiting), None);
        assert_eq!(at.latest_waiting(&items, waiting), Some(1));
        items[1].1 = false;
        assert_eq!(at.latest_waiting(&items, waiting), Some(0));
        // An edit the index did not see: it is built again.
        items.remove(0);
        assert_eq!(at.by_id(&items, "b", waiting), Some(1));
        assert_eq!(at.by_id(&items, "a", waiting), None);
        assert_eq!(at.latest_waiting(&items, waiting), None);
        items.swap(0, 1);
        assert_eq!(at.by_id(&items, "b", waiting), Some(0));
    }
}
