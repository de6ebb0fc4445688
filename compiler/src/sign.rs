//! Detached signatures of a bundle's `SHA256SUMS`.
//!
//! The format is that of `cosign sign-blob --key`: ECDSA P-256 over the
//! SHA-256 of the file, the signature ASN.1 DER, then base64, one line; the
//! public key a PEM `PUBLIC KEY` (SubjectPublicKeyInfo). So besides
//! `meshpack bundle --verify --key`, a customer can check it with
//! `cosign verify-blob --key vendor.pub --signature SHA256SUMS.sig
//! --insecure-ignore-tlog SHA256SUMS` or with OpenSSL:
//! `openssl dgst -sha256 -verify vendor.pub -signature <(base64 -d
//! SHA256SUMS.sig) SHA256SUMS`. The private key is an unencrypted PKCS#8
//! PEM (`cosign import-key-pair` reads it): keep it out of the bundle and
//! the repository.
//!
//! Invariant: pure functions over bytes except `generate`, which writes the
//! two key files and refuses to overwrite either.

use base64::Engine;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use std::path::{Path, PathBuf};

/// Write `<prefix>.key` (private, mode 0600) and `<prefix>.pub`.
pub fn generate(prefix: &Path) -> Result<(PathBuf, PathBuf), String> {
    let key = SigningKey::random(&mut rand_core::OsRng);
    let private = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| format!("cannot encode the key: {e}"))?;
    let public = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| format!("cannot encode the key: {e}"))?;
    let with = |ext: &str| {
        let mut s = prefix.as_os_str().to_owned();
        s.push(ext);
        PathBuf::from(s)
    };
    let (kp, pp) = (with(".key"), with(".pub"));
    for p in [&kp, &pp] {
        if p.exists() {
            return Err(format!(
                "{} exists; meshpack does not overwrite keys\nhelp: choose another name, or remove it if it is really unused",
                p.display()
            ));
        }
    }
    write_new(&kp, private.as_bytes(), 0o600)?;
    write_new(&pp, public.as_bytes(), 0o644)?;
    Ok((kp, pp))
}

fn write_new(p: &Path, bytes: &[u8], mode: u32) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(p)
        .map_err(|e| format!("cannot create {}: {e}", p.display()))?;
    f.write_all(bytes)
        .map_err(|e| format!("cannot write {}: {e}", p.display()))
}

/// The signature file's bytes for `data`, with the private key's PEM.
pub fn sign(private_pem: &str, data: &[u8]) -> Result<Vec<u8>, String> {
    let key = SigningKey::from_pkcs8_pem(private_pem).map_err(|e| {
        format!("not a P-256 private key in PKCS#8 PEM ({e})\nhelp: create one with `meshpack keys generate`")
    })?;
    let sig: Signature = key.sign(data);
    let b64 = base64::engine::general_purpose::STANDARD.encode(sig.to_der().as_bytes());
    Ok((b64 + "\n").into_bytes())
}

/// Check a signature file against `data` with the public key's PEM.
pub fn verify(public_pem: &str, data: &[u8], sig_file: &[u8]) -> Result<(), String> {
    let key = VerifyingKey::from_public_key_pem(public_pem).map_err(|e| {
        format!("the key is not a P-256 public key in PEM ({e})\nhelp: pass the vendor's .pub file")
    })?;
    let text = String::from_utf8_lossy(sig_file);
    let der = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| format!("not a base64 signature: {e}"))?;
    let sig = Signature::from_der(&der).map_err(|e| format!("not an ECDSA signature: {e}"))?;
    key.verify(data, &sig)
        .map_err(|_| "the signature does not match SHA256SUMS and this key: the bundle was changed after signing, or signed with another key".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_and_refusals() {
        let dir = tempfile::tempdir().unwrap();
        let (k, p) = generate(&dir.path().join("vendor")).unwrap();
        let (k, p) = (
            std::fs::read_to_string(k).unwrap(),
            std::fs::read_to_string(p).unwrap(),
        );
        assert!(k.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{k}");
        assert!(p.starts_with("-----BEGIN PUBLIC KEY-----\n"), "{p}");
        let sig = sign(&k, b"abc  file\n").unwrap();
        assert_eq!(verify(&p, b"abc  file\n", &sig), Ok(()));
        assert_eq!(
            verify(&p, b"abd  file\n", &sig),
            Err("the signature does not match SHA256SUMS and this key: the bundle was changed after signing, or signed with another key".into())
        );
        let (k2, p2) = generate(&dir.path().join("other")).unwrap();
        let p2 = std::fs::read_to_string(p2).unwrap();
        assert!(verify(&p2, b"abc  file\n", &sig).is_err());
        let e = generate(&dir.path().join("vendor")).unwrap_err();
        assert!(e.contains("vendor.key exists"), "{e}");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(k2).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(sign(&p, b"x")
            .unwrap_err()
            .starts_with("not a P-256 private key"));
    }
}
