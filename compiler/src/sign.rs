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

/// Why a key could not be made or read, or a signature does not check.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The new private key cannot be encoded as PKCS#8 PEM.
    #[error("cannot encode the key: {0}")]
    EncodePrivate(#[source] p256::pkcs8::Error),
    /// The new public key cannot be encoded as PEM.
    #[error("cannot encode the key: {0}")]
    EncodePublic(#[source] p256::pkcs8::spki::Error),
    /// `generate` would overwrite a key file.
    #[error(
        "{} exists; meshpack does not overwrite keys\nhelp: choose another name, or remove it if it is really unused",
        path.display()
    )]
    Exists { path: PathBuf },
    /// A key file cannot be created.
    #[error("cannot create {}: {source}", path.display())]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A key file cannot be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The signing key is not a P-256 PKCS#8 PEM private key.
    #[error("not a P-256 private key in PKCS#8 PEM ({0})\nhelp: create one with `meshpack keys generate`")]
    PrivateKey(#[source] p256::pkcs8::Error),
    /// The verifying key is not a P-256 PEM public key.
    #[error("the key is not a P-256 public key in PEM ({0})\nhelp: pass the vendor's .pub file")]
    PublicKey(#[source] p256::pkcs8::spki::Error),
    /// The signature file is not base64.
    #[error("not a base64 signature: {0}")]
    Base64(#[source] base64::DecodeError),
    /// The signature file's bytes are not a DER ECDSA signature.
    #[error("not an ECDSA signature: {0}")]
    Signature(#[source] p256::ecdsa::Error),
    /// The signature is well formed but does not sign these bytes with
    /// this key.
    #[error("the signature does not match SHA256SUMS and this key: the bundle was changed after signing, or signed with another key")]
    Mismatch,
}

/// Write `<prefix>.key` (private, mode 0600) and `<prefix>.pub`.
pub fn generate(prefix: &Path) -> Result<(PathBuf, PathBuf), Error> {
    let key = SigningKey::random(&mut rand_core::OsRng);
    let private = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(Error::EncodePrivate)?;
    let public = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(Error::EncodePublic)?;
    let with = |ext: &str| {
        let mut s = prefix.as_os_str().to_owned();
        s.push(ext);
        PathBuf::from(s)
    };
    let (kp, pp) = (with(".key"), with(".pub"));
    for p in [&kp, &pp] {
        if p.exists() {
            return Err(Error::Exists { path: p.clone() });
        }
    }
    write_new(&kp, private.as_bytes(), 0o600)?;
    write_new(&pp, public.as_bytes(), 0o644)?;
    Ok((kp, pp))
}

fn write_new(p: &Path, bytes: &[u8], mode: u32) -> Result<(), Error> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(p)
        .map_err(|source| Error::Create {
            path: p.to_path_buf(),
            source,
        })?;
    f.write_all(bytes).map_err(|source| Error::Write {
        path: p.to_path_buf(),
        source,
    })
}

/// The signature file's bytes for `data`, with the private key's PEM.
pub fn sign(private_pem: &str, data: &[u8]) -> Result<Vec<u8>, Error> {
    let key = SigningKey::from_pkcs8_pem(private_pem).map_err(Error::PrivateKey)?;
    let sig: Signature = key.sign(data);
    let b64 = base64::engine::general_purpose::STANDARD.encode(sig.to_der().as_bytes());
    Ok((b64 + "\n").into_bytes())
}

/// Check a signature file against `data` with the public key's PEM.
pub fn verify(public_pem: &str, data: &[u8], sig_file: &[u8]) -> Result<(), Error> {
    let key = VerifyingKey::from_public_key_pem(public_pem).map_err(Error::PublicKey)?;
    let text = String::from_utf8_lossy(sig_file);
    let der = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(Error::Base64)?;
    let sig = Signature::from_der(&der).map_err(Error::Signature)?;
    key.verify(data, &sig).map_err(|_| Error::Mismatch)
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
        verify(&p, b"abc  file\n", &sig).unwrap();
        let e = verify(&p, b"abd  file\n", &sig).unwrap_err();
        assert!(matches!(e, Error::Mismatch), "{e:?}");
        assert_eq!(
            e.to_string(),
            "the signature does not match SHA256SUMS and this key: the bundle was changed after signing, or signed with another key"
        );
        let (k2, p2) = generate(&dir.path().join("other")).unwrap();
        let p2 = std::fs::read_to_string(p2).unwrap();
        assert!(matches!(
            verify(&p2, b"abc  file\n", &sig),
            Err(Error::Mismatch)
        ));
        let e = generate(&dir.path().join("vendor")).unwrap_err();
        let Error::Exists { path } = &e else {
            panic!("expected Exists, got {e:?}");
        };
        assert_eq!(path, &dir.path().join("vendor.key"));
        assert_eq!(
            e.to_string(),
            format!(
                "{} exists; meshpack does not overwrite keys\nhelp: choose another name, or remove it if it is really unused",
                path.display()
            )
        );
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(k2).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let e = sign(&p, b"x").unwrap_err();
        assert!(matches!(e, Error::PrivateKey(_)), "{e:?}");
        assert!(
            e.to_string()
                .starts_with("not a P-256 private key in PKCS#8 PEM ("),
            "{e}"
        );
        let e = verify(&k, b"x", &sig).unwrap_err();
        assert!(matches!(e, Error::PublicKey(_)), "{e:?}");
        let e = verify(&p, b"x", b"not base64!").unwrap_err();
        assert!(matches!(e, Error::Base64(_)), "{e:?}");
        let e = verify(&p, b"x", b"AAAA").unwrap_err();
        assert!(matches!(e, Error::Signature(_)), "{e:?}");
        assert!(e.to_string().starts_with("not an ECDSA signature: "), "{e}");
    }
}
