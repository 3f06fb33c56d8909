//! The module's verify codec: any header and input bytes give a decision or a
//! bad_input error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use verifier_core::abi;

fuzz_target!(|data: &[u8]| {
    let split = data.first().map_or(0, |&b| usize::from(b)).min(data.len());
    let (header, input) = data.split_at(split);
    let out = abi::verify_bytes(header, input);
    assert!(matches!(abi::decode_verify(&out), Ok(_) | Err(abi::AbiError::BadInput(_))));
});
