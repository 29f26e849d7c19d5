//! A set of IAM action names that costs a few kilobytes whatever it holds, and nothing to copy.
//!
//! `Action: '*'` names every catalog action (~22k). Held as a `BTreeSet<String>` per statement
//! that is ~1.6 MB, so a 62 KB template with a thousand such statements took gigabytes, and an
//! aliased `!If` tree of them more (issue 14). Interning identical pattern lists is not enough:
//! a thousand statements with different `NotAction`s are a thousand different sets.
//!
//! An [`ActionSet`] is a bitset over the embedded catalog's action names (in byte order) plus
//! the names the catalog does not hold (written in another casing, or newer than the catalog),
//! each part behind an `Arc`: a clone is a reference count, a full set is ~2.8 KB, a union is a
//! word-wise OR. It iterates, compares and serialises exactly like the `BTreeSet<String>` it
//! replaces (byte-ordered names, exact-case `contains`), so no output changes.

use std::collections::BTreeSet;
use std::fmt;
use std::iter::Peekable;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Catalog;

/// The embedded catalog's qualified action names, sorted by bytes (the order of
/// `BTreeSet<String>`, which the catalog's case-insensitive order is not), one bit each.
fn names() -> &'static [String] {
    static NAMES: OnceLock<Vec<String>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let mut names: Vec<String> = match Catalog::try_embedded() {
            Ok(catalog) => catalog.all_actions().map(|a| a.name().to_owned()).collect(),
            // A broken embedded catalog is reported by every command that expands actions;
            // here every name then simply lives in the `extra` part.
            Err(_) => Vec::new(),
        };
        names.sort_unstable();
        names.dedup();
        names
    })
}

fn bit_of(name: &str) -> Option<usize> {
    names().binary_search_by(|n| n.as_str().cmp(name)).ok()
}

const WORD: usize = u64::BITS as usize;

/// A set of action names; see the module documentation.
#[derive(Clone, PartialEq, Eq)]
pub struct ActionSet {
    /// One bit per entry of [`names`]; empty when no catalog name is in the set (so equal sets
    /// have equal representations).
    bits: Arc<[u64]>,
    /// Names not in the catalog, exactly as given.
    extra: Arc<BTreeSet<String>>,
    len: usize,
}

impl Default for ActionSet {
    fn default() -> Self {
        ActionSet {
            bits: Arc::from(Vec::new()),
            extra: Arc::new(BTreeSet::new()),
            len: 0,
        }
    }
}

impl ActionSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a set from names, each kept exactly as given.
    pub fn from_names<S: AsRef<str> + Into<String>>(names_in: impl IntoIterator<Item = S>) -> Self {
        let mut bits: Vec<u64> = Vec::new();
        let mut extra = BTreeSet::new();
        for name in names_in {
            match bit_of(name.as_ref()) {
                Some(i) => {
                    if bits.is_empty() {
                        bits = vec![0; names().len().div_ceil(WORD)];
                    }
                    if let Some(w) = bits.get_mut(i / WORD) {
                        *w |= 1 << (i % WORD);
                    }
                }
                None => {
                    extra.insert(name.into());
                }
            }
        }
        Self::from_parts(bits, extra)
    }

    fn from_parts(bits: Vec<u64>, extra: BTreeSet<String>) -> Self {
        let set_bits: usize = bits.iter().map(|w| w.count_ones() as usize).sum();
        let bits = if set_bits == 0 { Vec::new() } else { bits };
        ActionSet {
            len: set_bits + extra.len(),
            bits: Arc::from(bits),
            extra: Arc::new(extra),
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether `name` is in the set (exact case, as `BTreeSet<String>::contains`).
    pub fn contains(&self, name: &str) -> bool {
        match bit_of(name) {
            Some(i) => self
                .bits
                .get(i / WORD)
                .is_some_and(|w| w & (1 << (i % WORD)) != 0),
            None => self.extra.contains(name),
        }
    }

    /// The names in byte order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            catalog: CatalogBits {
                bits: &self.bits,
                word: 0,
                current: self.bits.first().copied().unwrap_or(0),
            }
            .peekable(),
            extra: self.extra.iter().peekable(),
        }
    }

    /// Adds every name of `other`. Shares `other` when `self` is empty and does nothing when
    /// `other` adds nothing, so the union of a grant's identical `*` statements costs no copy.
    pub fn union_with(&mut self, other: &ActionSet) {
        if other.is_empty() {
            return;
        }
        if self.is_empty() {
            *self = other.clone();
            return;
        }
        let bits_add = other
            .bits
            .iter()
            .enumerate()
            .any(|(i, w)| w & !self.bits.get(i).copied().unwrap_or(0) != 0);
        let extra_add = other.extra.iter().any(|n| !self.extra.contains(n));
        if !bits_add && !extra_add {
            return;
        }
        let words = self.bits.len().max(other.bits.len());
        let bits: Vec<u64> = (0..words)
            .map(|i| {
                self.bits.get(i).copied().unwrap_or(0) | other.bits.get(i).copied().unwrap_or(0)
            })
            .collect();
        let mut extra = (*self.extra).clone();
        extra.extend(other.extra.iter().cloned());
        *self = Self::from_parts(bits, extra);
    }

    /// Approximate heap bytes of this set's own storage (shared parts counted in full).
    pub fn heap_bytes(&self) -> usize {
        self.bits.len() * std::mem::size_of::<u64>()
            + self
                .extra
                .iter()
                .map(|n| n.len() + std::mem::size_of::<String>())
                .sum::<usize>()
    }
}

/// Set bits of the catalog part, as names, in order.
struct CatalogBits<'a> {
    bits: &'a [u64],
    word: usize,
    current: u64,
}

impl<'a> Iterator for CatalogBits<'a> {
    type Item = &'a String;

    fn next(&mut self) -> Option<&'a String> {
        loop {
            if self.current != 0 {
                let bit = self.current.trailing_zeros() as usize;
                self.current &= self.current - 1;
                return names().get(self.word * WORD + bit);
            }
            self.word += 1;
            self.current = *self.bits.get(self.word)?;
        }
    }
}

/// Iterator over an [`ActionSet`]: the catalog names and the extra names merged in byte order.
pub struct Iter<'a> {
    catalog: Peekable<CatalogBits<'a>>,
    extra: Peekable<std::collections::btree_set::Iter<'a, String>>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a String;

    fn next(&mut self) -> Option<&'a String> {
        match (self.catalog.peek(), self.extra.peek()) {
            (Some(c), Some(e)) if e < c => self.extra.next(),
            (Some(_), _) => self.catalog.next(),
            (None, _) => self.extra.next(),
        }
    }
}

impl<'a> IntoIterator for &'a ActionSet {
    type Item = &'a String;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl FromIterator<String> for ActionSet {
    fn from_iter<I: IntoIterator<Item = String>>(iter: I) -> Self {
        Self::from_names(iter)
    }
}

impl<'a> FromIterator<&'a str> for ActionSet {
    fn from_iter<I: IntoIterator<Item = &'a str>>(iter: I) -> Self {
        Self::from_names(iter)
    }
}

impl From<BTreeSet<String>> for ActionSet {
    fn from(set: BTreeSet<String>) -> Self {
        Self::from_names(set)
    }
}

impl<const N: usize> From<[String; N]> for ActionSet {
    fn from(names: [String; N]) -> Self {
        Self::from_names(names)
    }
}

impl fmt::Debug for ActionSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl Serialize for ActionSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for ActionSet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let names: Vec<String> = Vec::deserialize(deserializer)?;
        Ok(Self::from_names(names))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    fn reference(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn behaves_like_a_btreeset_of_strings() {
        // Catalog names, a wrong-case name and an unknown one: order, membership and JSON
        // are those of BTreeSet<String>.
        let names = [
            "s3:PutObject",
            "s3:GetObject",
            "s3:getobject",
            "zzz:Nope",
            "aaa:First",
            "iam:PassRole",
            "s3:GetObject",
        ];
        let set: ActionSet = names.iter().copied().collect();
        let want = reference(&names);
        assert_eq!(set.len(), want.len());
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            want.iter().collect::<Vec<_>>()
        );
        for n in &names {
            assert!(set.contains(n), "{n}");
        }
        assert!(!set.contains("s3:DeleteObject"));
        assert!(!set.contains("S3:GetObject"));
        assert_eq!(
            serde_json::to_string(&set).unwrap(),
            serde_json::to_string(&want).unwrap()
        );
        let back: ActionSet = serde_json::from_str(&serde_json::to_string(&set).unwrap()).unwrap();
        assert_eq!(back, set);
        assert_eq!(format!("{set:?}"), format!("{want:?}"));
    }

    #[test]
    fn every_catalog_action_iterates_in_byte_order() {
        let catalog = Catalog::embedded();
        let all = catalog.expand("*").actions;
        let set = ActionSet::from(all.clone());
        assert_eq!(set.len(), all.len());
        assert!(set.iter().eq(all.iter()));
        // The whole catalog costs a few kilobytes, not megabytes.
        assert!(set.heap_bytes() < 8 * 1024, "{}", set.heap_bytes());
    }

    #[test]
    fn union_shares_or_merges() {
        let all = ActionSet::from(Catalog::embedded().expand("*").actions);
        let mut u = ActionSet::new();
        u.union_with(&all);
        assert!(
            Arc::ptr_eq(&u.bits, &all.bits),
            "an empty set takes the other's storage"
        );
        u.union_with(&ActionSet::from(["s3:GetObject".to_string()]));
        assert!(
            Arc::ptr_eq(&u.bits, &all.bits),
            "a subset adds nothing and copies nothing"
        );

        let mut a: ActionSet = ["s3:GetObject", "x:Extra"].into_iter().collect();
        a.union_with(&["s3:PutObject", "x:Extra", "y:Other"].into_iter().collect());
        let want = reference(&["s3:GetObject", "s3:PutObject", "x:Extra", "y:Other"]);
        assert!(a.iter().eq(want.iter()));
        assert_eq!(a.len(), 4);
    }

    #[test]
    fn empty_sets_are_equal_however_built() {
        let a = ActionSet::new();
        let b: ActionSet = Vec::<String>::new().into_iter().collect();
        let mut c = ActionSet::new();
        c.union_with(&b);
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert!(a.iter().next().is_none());
    }
}
