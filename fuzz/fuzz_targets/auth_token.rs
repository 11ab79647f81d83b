//! Any `x-modal-auth-token` through the server's JWT check (`jwt::Signer::verify`): `None` or
//! the claims of a token the key really signed, never a panic; and nothing but the exact token
//! issued verifies (a token equal to the issued one is the only accepted input here).
#![no_main]

use libfuzzer_sys::fuzz_target;
use modal_secrets_server::local::jwt::Signer;

const NOW: u64 = 1_800_000_000;

fuzz_target!(|data: &[u8]| {
    let signer = Signer::new([42; 32]);
    let issued = signer.issue("ak-fuzz", 7, "fuzz", NOW);
    let token = String::from_utf8_lossy(data);
    match signer.verify(&token, NOW + 1) {
        None => {}
        Some(claims) => {
            // HMAC-SHA256 cannot be forged by a fuzzer: what verifies is what was issued (or
            // the same bytes with a payload encoding that decodes to the same claims).
            assert_eq!(claims.workspace_id, 7);
            assert_eq!(claims.token_id, "ak-fuzz");
            assert!(token.len() <= issued.len() + 8, "{token}");
        }
    }
});
