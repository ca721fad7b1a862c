//! Salesforce-looking record Ids: 18 characters, the object's 3-character key prefix, a fixed
//! instance part, a base-62 record number from a per-object counter, and the real
//! case-safety suffix Salesforce appends to 15-character Ids. Counters make them unique and
//! deterministic.

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const SUFFIX: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";

/// One 18-character Id.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SfId([u8; 18]);

impl SfId {
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Builds the Id of record number `n` of the object with this key prefix.
    pub fn new(prefix: &[u8; 3], n: u64) -> SfId {
        let mut id = [b'0'; 18];
        id[..3].copy_from_slice(prefix);
        id[3] = b'B';
        id[4] = b'c';
        // id[5] stays '0'; id[6..15] is the record number in base 62.
        let mut v = n;
        for slot in id[6..15].iter_mut().rev() {
            *slot = BASE62[(v % 62) as usize];
            v /= 62;
        }
        for chunk in 0..3 {
            let mut flags = 0usize;
            for (bit, c) in id[chunk * 5..chunk * 5 + 5].iter().enumerate() {
                if c.is_ascii_uppercase() {
                    flags |= 1 << bit;
                }
            }
            id[15 + chunk] = SUFFIX[flags];
        }
        SfId(id)
    }
}

/// Key prefixes of the objects the generator writes.
pub mod prefix {
    pub const LEAD: &[u8; 3] = b"00Q";
    pub const ACCOUNT: &[u8; 3] = b"001";
    pub const CONTACT: &[u8; 3] = b"003";
    pub const USER: &[u8; 3] = b"005";
    pub const OPPORTUNITY: &[u8; 3] = b"006";
    pub const OPPORTUNITY_HISTORY: &[u8; 3] = b"008";
    pub const CAMPAIGN: &[u8; 3] = b"701";
    pub const CAMPAIGN_MEMBER: &[u8; 3] = b"00v";
}

/// A counter that hands out consecutive Ids of one object.
pub struct IdSeq {
    prefix: &'static [u8; 3],
    next: u64,
}

impl IdSeq {
    pub fn new(prefix: &'static [u8; 3]) -> Self {
        IdSeq { prefix, next: 1 }
    }

    pub fn next_id(&mut self) -> SfId {
        let id = SfId::new(self.prefix, self.next);
        self.next += 1;
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_salesforce_shaped_and_unique() {
        let a = SfId::new(prefix::LEAD, 1);
        assert_eq!(a.as_bytes().len(), 18);
        assert_eq!(&a.as_bytes()[..3], b"00Q");
        assert_eq!(
            std::str::from_utf8(a.as_bytes()).ok(),
            Some("00QBc0000000001MAA")
        );
        // Suffix of a real-world Id: 15-char 001D000000IqhSL -> 18-char 001D000000IqhSLIAZ.
        let mut real = *b"001D000000IqhSL___";
        for chunk in 0..3 {
            let mut flags = 0usize;
            for (bit, c) in real[chunk * 5..chunk * 5 + 5].iter().enumerate() {
                if c.is_ascii_uppercase() {
                    flags |= 1 << bit;
                }
            }
            real[15 + chunk] = SUFFIX[flags];
        }
        assert_eq!(&real, b"001D000000IqhSLIAZ");
        let mut seq = IdSeq::new(prefix::OPPORTUNITY);
        let ids: Vec<SfId> = (0..5000).map(|_| seq.next_id()).collect();
        for w in ids.windows(2) {
            assert_ne!(w[0], w[1]);
            assert!(w[0].as_bytes()[..15] < w[1].as_bytes()[..15]);
        }
    }
}
