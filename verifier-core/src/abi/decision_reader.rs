//! The decision reader of the host's hot path: [`read_verify_result`] reads
//! a module's `verify` output as postcard lays out
//! [`wire::VerifyResult`](super::wire::VerifyResult), in place and without
//! going through serde.
//!
//! Why by hand: a driver reads one decision per check. Through serde and
//! postcard, decoding the ten-grant fixture's decision into an owned
//! [`Decision`](crate::Decision) was a third of a whole native `verify`,
//! and into a borrowed [`DecisionView`] still a fifth: serde's per-field
//! dispatch and a general `from_utf8` call for a
//! 17-byte principal. This reader takes a fraction of that
//! (`cargo bench -p verifier-core --bench verify -- abi_decode`,
//! BENCHMARKS.md).
//!
//! What it accepts is exactly what postcard accepts, down to its varints
//! (overlong forms included, the last byte bounded), its bool and option
//! tags (0 or 1), UTF-8 names and no trailing bytes: the property tests
//! below hold it to `postcard` on encoded decisions and on damaged ones. So
//! a plugin's output that postcard would refuse is refused here too, and
//! the host denies on it.

use alloc::vec::Vec;

use crate::decision::Reason;

use super::wire::DecisionView;

/// A `verify` output: the decision, or the module's message that it could
/// not read its input; `None` when the bytes are not one whole
/// `VerifyResult`.
pub(crate) fn read_verify_result(bytes: &[u8]) -> Option<Result<DecisionView<'_>, &str>> {
    let mut r = Reader { rest: bytes };
    let result = match r.varint_u32()? {
        0 => Ok(r.decision()?),
        1 => Err(r.str()?),
        _ => return None,
    };
    r.rest.is_empty().then_some(result)
}

/// The bytes not read yet.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&byte, rest) = self.rest.split_first()?;
        self.rest = rest;
        Some(byte)
    }

    fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        let (taken, rest) = self.rest.split_at_checked(len)?;
        self.rest = rest;
        Some(taken)
    }

    /// An unsigned LEB128 varint of at most `max_bytes` bytes, whose last
    /// byte may hold at most `last_max`: postcard's `try_take_varint_*`
    /// (which takes overlong forms too).
    fn varint(&mut self, max_bytes: u32, last_max: u8) -> Option<u64> {
        let mut value = 0u64;
        for i in 0..max_bytes {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return (i + 1 < max_bytes || byte <= last_max).then_some(value);
            }
        }
        None
    }

    /// A `u32` (enum variants): five bytes, the last holding 4 bits.
    fn varint_u32(&mut self) -> Option<u32> {
        self.varint(5, 0x0f).map(|v| v as u32)
    }

    /// A length (`usize` on a 64-bit host, as postcard reads it there; a
    /// length past the bytes left fails when they are taken).
    fn len(&mut self) -> Option<usize> {
        self.varint(10, 0x01)
            .map(|v| usize::try_from(v).unwrap_or(usize::MAX))
    }

    fn bool(&mut self) -> Option<bool> {
        match self.byte()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }

    fn str(&mut self) -> Option<&'a str> {
        let len = self.len()?;
        core::str::from_utf8(self.take(len)?).ok()
    }

    fn option<T>(&mut self, read: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        match self.byte()? {
            0 => Some(None),
            1 => read(self).map(Some),
            _ => None,
        }
    }

    /// A sequence: its length, then each element. Every element takes at
    /// least one byte, so the room reserved is bounded by the bytes left.
    fn seq<T>(&mut self, mut read: impl FnMut(&mut Self) -> Option<T>) -> Option<Vec<T>> {
        let len = self.len()?;
        let mut items = Vec::with_capacity(len.min(self.rest.len()));
        for _ in 0..len {
            items.push(read(self)?);
        }
        Some(items)
    }

    fn decision(&mut self) -> Option<DecisionView<'a>> {
        let allow = self.bool()?;
        // `Reason::ALL` is in declaration order, which is the wire's (the
        // tests check each reason's index against postcard's).
        let reason = *Reason::ALL.get(usize::try_from(self.varint_u32()?).ok()?)?;
        let principal = self.option(Self::str)?;
        let filter = self.option(|r| r.seq(|r| r.seq(|r| Some((r.str()?, r.str()?)))))?;
        let masked = self.seq(Self::str)?;
        Some(DecisionView {
            allow,
            reason,
            principal,
            filter,
            masked,
        })
    }
}

// proptest is a native dev-dependency (the browser tests are tests/browser.rs).
#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))]
#[allow(clippy::unwrap_used)]
mod tests {
    use alloc::string::String;
    use alloc::vec;

    use proptest::prelude::*;

    use super::*;
    use crate::abi::decode;
    use crate::abi::wire::{VerifyResult, VerifyResultIn, WireDecision};
    use crate::decision::Decision;

    /// What postcard makes of the same bytes (the reference).
    fn postcard(bytes: &[u8]) -> Option<Result<DecisionView<'_>, &str>> {
        match decode::<VerifyResultIn<'_>>(bytes)? {
            VerifyResultIn::Decision(view) => Some(Ok(view)),
            VerifyResultIn::BadInput(message) => Some(Err(message)),
        }
    }

    fn name() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => "[a-zA-Z0-9_:]{0,20}",
            2 => "\\PC{0,20}",
            1 => "[a-z]{120,300}",
        ]
    }

    fn result() -> impl Strategy<Value = VerifyResult> {
        let decision = (
            any::<bool>(),
            proptest::sample::select(Reason::ALL.to_vec()),
            proptest::option::of(name()),
            proptest::option::of(proptest::collection::vec(
                proptest::collection::vec((name(), name()), 0..3),
                0..3,
            )),
            proptest::collection::vec(name(), 0..4),
        )
            .prop_map(|(allow, reason, principal, filter, masked)| {
                VerifyResult::Decision(WireDecision {
                    allow,
                    reason,
                    principal,
                    filter,
                    masked,
                })
            });
        prop_oneof![4 => decision, 1 => name().prop_map(VerifyResult::BadInput)]
    }

    /// An encoded result, damaged: a byte changed, bytes cut off or added.
    fn damaged() -> impl Strategy<Value = Vec<u8>> {
        (
            result(),
            any::<prop::sample::Index>(),
            // tags and varints' edges more often than any byte would be
            prop_oneof![
                proptest::sample::select(vec![0u8, 1, 2, 0x0f, 0x10, 0x7f, 0x80, 0xff]),
                any::<u8>(),
            ],
            0..4usize,
        )
            .prop_map(|(result, at, byte, how)| {
                let mut bytes = postcard::to_allocvec(&result).unwrap();
                let i = at.index(bytes.len());
                match how {
                    0 => bytes[i] = byte,
                    1 => bytes.truncate(i),
                    2 => bytes.push(byte),
                    _ => bytes.insert(i, byte),
                }
                bytes
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3_000))]

        /// Every encoded result reads as postcard reads it, and as the
        /// value that was encoded.
        #[test]
        fn reads_what_postcard_reads(result in result()) {
            let bytes = postcard::to_allocvec(&result).unwrap();
            let read = read_verify_result(&bytes);
            prop_assert_eq!(&read, &postcard(&bytes));
            match (read.unwrap(), &result) {
                (Ok(view), VerifyResult::Decision(d)) => {
                    prop_assert_eq!(view.to_decision(), Decision::from(d.clone()));
                }
                (Err(message), VerifyResult::BadInput(m)) => prop_assert_eq!(message, m.as_str()),
                _ => prop_assert!(false, "another variant"),
            }
        }

        /// Damaged bytes are refused exactly when postcard refuses them,
        /// and read as postcard reads them otherwise.
        #[test]
        fn refuses_what_postcard_refuses(bytes in damaged()) {
            prop_assert_eq!(read_verify_result(&bytes), postcard(&bytes));
        }

        /// So are bytes of any shape.
        #[test]
        fn any_bytes_read_as_postcard_reads_them(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            prop_assert_eq!(read_verify_result(&bytes), postcard(&bytes));
        }
    }

    #[test]
    fn bool_and_option_tags_other_than_0_and_1_are_refused() {
        // allowed, no principal, no filter, no masked; then each tag set to 2
        let good = [0u8, 1, 0, 0, 0, 0];
        assert!(read_verify_result(&good).is_some());
        for at in [1, 3, 4] {
            let mut bytes = good;
            bytes[at] = 2;
            assert_eq!(read_verify_result(&bytes), None, "tag at {at}");
            assert_eq!(postcard(&bytes), None, "tag at {at}");
        }
    }

    #[test]
    fn reasons_are_at_their_wire_index() {
        for (i, reason) in Reason::ALL.into_iter().enumerate() {
            assert_eq!(postcard::to_allocvec(&reason).unwrap(), vec![i as u8]);
        }
    }

    #[test]
    fn varints_at_their_limits_read_as_postcard_reads_them() {
        // variant 0 in its overlong five-byte form, last byte at and past
        // its bound; then lengths at and past ten bytes.
        let decision = |variant: &[u8]| {
            let mut bytes = variant.to_vec();
            bytes.extend([1, 0, 0, 0, 0]); // allow, allowed, no principal, no filter, no masked
            bytes
        };
        for variant in [
            &[0x80, 0x80, 0x80, 0x80, 0x00][..],
            &[0x80, 0x80, 0x80, 0x80, 0x0f],
            &[0x80, 0x80, 0x80, 0x80, 0x10],
            &[0x80, 0x80, 0x80, 0x80, 0x80, 0x00],
        ] {
            let bytes = decision(variant);
            assert_eq!(read_verify_result(&bytes), postcard(&bytes), "{variant:?}");
        }
        assert!(read_verify_result(&decision(&[0x80, 0x80, 0x80, 0x80, 0x00])).is_some());
        for len in [
            &[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00][..],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02],
            // past the bound, the bits shifted out: reads as 0 unless refused
            &[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02],
        ] {
            // a principal of that length, then no filter and no masked
            // fields (so a length read as 0 makes a whole decision)
            let mut bytes = vec![0, 1, 0, 1];
            bytes.extend(len);
            bytes.extend([0, 0]);
            assert_eq!(read_verify_result(&bytes), postcard(&bytes), "{len:?}");
        }
    }
}
