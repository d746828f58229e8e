//! The identities of a node's domains (name, UUID, id), laid out for lists and lookups.
//!
//! A `Dom` is large (a whole `DomainDef`, with its strings and devices spread over the heap), and
//! with thousands of domains, reaching into one for its name costs a cache miss, often a TLB miss
//! as well, more than the rest of a lookup. So what lists and lookups read lives here, packed:
//! a vector of 28-byte entries beside the node's vector of domains (entry `i` is domain `i`), all
//! names back to back in one string, and the name and UUID indexes as hash tables of 4-byte
//! entry numbers, which compare keys against the entries. For 10,000 domains that is about
//! 0.6 MB in a handful of places, instead of a walk over tens of megabytes.

use std::collections::BTreeMap;

use hashbrown::HashTable;
use uuid::Uuid;
use virtkit_driver::DomainRef;

/// One domain's identity.
struct Entry {
    /// Id, or -1 when inactive.
    id: i32,
    uuid: Uuid,
    /// Where the name is in [`Idents::names`].
    name_at: u32,
    name_len: u32,
}

/// The identities of the domains of a node, with indexes by name, UUID and id.
#[derive(Default)]
pub(crate) struct Idents {
    entries: Vec<Entry>,
    /// Every name, back to back. The name of a removed domain stays until more than half of the
    /// string is such garbage, and then the live names are copied into a new string.
    names: String,
    garbage: usize,
    by_name: HashTable<u32>,
    by_uuid: HashTable<u32>,
    /// Active domains, in id order (what `list_domains` answers).
    by_id: BTreeMap<i32, u32>,
}

/// Hash of an index key: foldhash with a fixed seed. The std default (SipHash with a random key)
/// resists keys chosen to collide but costs more than the rest of a lookup; the node does not need
/// that protection, since whoever picks its domains' names and UUIDs is the node's own user.
/// foldhash mixes every input bit, so keys that differ only in their last bytes (sequential UUIDs,
/// `vm-0001`, `vm-0002`, ...) still spread over the buckets.
fn key_hash(bytes: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::with_seed(0x7669_7274_6b69_7421).hash_one(bytes)
}

fn slot(i: usize) -> u32 {
    u32::try_from(i).expect("fewer than 2^32 domains")
}

fn name_of<'a>(names: &'a str, e: &Entry) -> &'a str {
    let at = e.name_at as usize;
    &names[at..at + e.name_len as usize]
}

impl Idents {
    /// The identity of domain `i`.
    pub fn get(&self, i: usize) -> DomainRef<'_> {
        let e = &self.entries[i];
        DomainRef {
            id: e.id,
            uuid: e.uuid,
            name: name_of(&self.names, e),
        }
    }

    pub fn find_name(&self, name: &str) -> Option<usize> {
        let (entries, names) = (&self.entries, &self.names);
        self.by_name
            .find(key_hash(name.as_bytes()), |&i| {
                name_of(names, &entries[i as usize]) == name
            })
            .map(|&i| i as usize)
    }

    pub fn find_uuid(&self, uuid: &Uuid) -> Option<usize> {
        let entries = &self.entries;
        self.by_uuid
            .find(key_hash(uuid.as_bytes()), |&i| {
                entries[i as usize].uuid == *uuid
            })
            .map(|&i| i as usize)
    }

    pub fn find_id(&self, id: i32) -> Option<usize> {
        self.by_id.get(&id).map(|&i| i as usize)
    }

    /// Adds an inactive domain as number `len()`; the caller has checked that its name and UUID
    /// are new.
    pub fn push(&mut self, name: &str, uuid: Uuid) {
        let i = slot(self.entries.len());
        let name_at = u32::try_from(self.names.len()).expect("less than 4 GiB of names");
        self.names.push_str(name);
        self.entries.push(Entry {
            id: -1,
            uuid,
            name_at,
            name_len: slot(name.len()),
        });
        let (entries, names) = (&self.entries, &self.names);
        self.by_name
            .insert_unique(key_hash(name.as_bytes()), i, |&j| {
                key_hash(name_of(names, &entries[j as usize]).as_bytes())
            });
        self.by_uuid
            .insert_unique(key_hash(uuid.as_bytes()), i, |&j| {
                key_hash(entries[j as usize].uuid.as_bytes())
            });
    }

    /// Removes domain `i`; the last domain takes its number (as `Vec::swap_remove`).
    pub fn swap_remove(&mut self, i: usize) {
        self.set_id(i, -1);
        self.renumber(i, None);
        let last = self.entries.len() - 1;
        if i != last {
            self.renumber(last, Some(i));
        }
        let gone = self.entries.swap_remove(i);
        self.garbage += gone.name_len as usize;
        if self.garbage > 4096 && self.garbage > self.names.len() / 2 {
            self.compact_names();
        }
    }

    /// Points the index entries of domain `from` to `to`, or removes them.
    fn renumber(&mut self, from: usize, to: Option<usize>) {
        let was = slot(from);
        let e = &self.entries[from];
        let by_name = self
            .by_name
            .find_entry(key_hash(name_of(&self.names, e).as_bytes()), |&j| j == was)
            .expect("every domain is indexed by name");
        let by_uuid = self
            .by_uuid
            .find_entry(key_hash(e.uuid.as_bytes()), |&j| j == was)
            .expect("every domain is indexed by UUID");
        match to {
            None => {
                by_name.remove();
                by_uuid.remove();
            }
            Some(to) => {
                *by_name.into_mut() = slot(to);
                *by_uuid.into_mut() = slot(to);
                if e.id >= 0 {
                    self.by_id.insert(e.id, slot(to));
                }
            }
        }
    }

    /// Sets the id of domain `i` (-1: inactive).
    pub fn set_id(&mut self, i: usize, id: i32) {
        let e = &mut self.entries[i];
        if e.id >= 0 {
            self.by_id.remove(&e.id);
        }
        e.id = id;
        if id >= 0 {
            self.by_id.insert(id, slot(i));
        }
    }

    fn compact_names(&mut self) {
        let mut names = String::with_capacity(self.names.len() - self.garbage);
        for e in &mut self.entries {
            let at = e.name_at as usize;
            e.name_at = slot(names.len());
            names.push_str(&self.names[at..at + e.name_len as usize]);
        }
        self.names = names;
        self.garbage = 0;
    }

    /// Ids of the active domains, in increasing order.
    pub fn active_ids(&self) -> impl Iterator<Item = i32> + '_ {
        self.by_id.keys().copied()
    }

    pub fn num_active(&self) -> usize {
        self.by_id.len()
    }

    /// Names of the inactive domains, in the node's order.
    pub fn inactive_names(&self) -> impl Iterator<Item = &str> {
        self.entries
            .iter()
            .filter(|e| e.id < 0)
            .map(|e| name_of(&self.names, e))
    }

    pub fn num_inactive(&self) -> usize {
        self.entries.len() - self.by_id.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uuid(i: u128) -> Uuid {
        Uuid::from_u128(0xb3c5_e0a1_0000_4000_8000_0000_0000_0000 | i)
    }

    /// Checks every index against the entries.
    fn check(ix: &Idents) {
        assert_eq!(ix.by_name.len(), ix.entries.len());
        assert_eq!(ix.by_uuid.len(), ix.entries.len());
        for i in 0..ix.entries.len() {
            let d = ix.get(i);
            assert_eq!(ix.find_name(d.name), Some(i), "{}", d.name);
            assert_eq!(ix.find_uuid(&d.uuid), Some(i), "{}", d.uuid);
            if d.id >= 0 {
                assert_eq!(ix.find_id(d.id), Some(i));
            }
        }
        let active = (0..ix.entries.len()).filter(|&i| ix.get(i).id >= 0).count();
        assert_eq!(ix.num_active(), active);
        assert_eq!(ix.num_inactive(), ix.entries.len() - active);
        assert!(ix.active_ids().is_sorted());
    }

    #[test]
    fn indexes_follow_pushes_removals_and_ids() {
        let mut ix = Idents::default();
        let n = 3000;
        for i in 0..n {
            ix.push(&format!("vm-{i:04}"), uuid(i));
        }
        for i in (0..n as usize).step_by(3) {
            ix.set_id(i, i as i32 + 1);
        }
        check(&ix);
        // Remove two thirds, from the front (each removal moves the last domain): enough garbage
        // to compact the names more than once.
        let mut removed = Vec::new();
        while ix.entries.len() > n as usize / 3 {
            removed.push(ix.get(0).name.to_string());
            ix.swap_remove(0);
        }
        check(&ix);
        for name in &removed {
            assert_eq!(ix.find_name(name), None, "{name}");
        }
        assert!(
            ix.names.len() < 2 * (ix.entries.len() * 7 + 4096),
            "{}",
            ix.names.len()
        );
        let inactive: Vec<&str> = ix.inactive_names().collect();
        assert_eq!(inactive.len(), ix.num_inactive());
        ix.set_id(1, -1);
        check(&ix);
        while !ix.entries.is_empty() {
            ix.swap_remove(ix.entries.len() - 1);
        }
        check(&ix);
        assert_eq!(ix.find_name("vm-0001"), None);
    }

    #[test]
    fn names_of_every_length_are_told_apart() {
        let mut ix = Idents::default();
        let names = [
            "",
            "a",
            "b",
            "ab",
            "ba",
            "abc",
            "abcd",
            "abcde",
            "abcdefg",
            "abcdefgh",
            "abcdefghi",
            "a\u{e9}",
            "\u{e9}a",
            "x-0000000000000001",
            "x-0000000000000010",
        ];
        for (i, n) in names.iter().enumerate() {
            ix.push(n, uuid(i as u128));
        }
        check(&ix);
        assert_eq!(ix.find_name("abcdefgi"), None);
    }

    #[test]
    fn sequential_keys_spread() {
        // The low 7 bits pick among 128 buckets: sequential UUIDs and names must spread over them.
        for key in [
            (0..1024u128)
                .map(|i| key_hash(uuid(i).as_bytes()))
                .collect::<Vec<_>>(),
            (0..1024)
                .map(|i| key_hash(format!("vm-{i:04}").as_bytes()))
                .collect(),
        ] {
            let mut low = [0u32; 128];
            let mut tag = [0u32; 128];
            for h in key {
                low[(h & 127) as usize] += 1;
                tag[(h >> 57) as usize] += 1;
            }
            assert!(low.iter().all(|&c| (1..=24).contains(&c)), "{low:?}");
            assert!(tag.iter().all(|&c| (1..=24).contains(&c)), "{tag:?}");
        }
    }
}
