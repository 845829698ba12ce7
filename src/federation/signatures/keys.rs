//! Keys: remote actors' public keys (RSA from `publicKey`, Ed25519 from a
//! FEP-521a `assertionMethod` Multikey), and our actors' key pairs for
//! signing. All checking and signing is `ring`'s, but for RSA keys shorter
//! than 2048 bits (some old servers), which only the `rsa` crate reads.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rsa::pkcs1::{DecodeRsaPublicKey, EncodeRsaPublicKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;
use sha2::{Digest, Sha256};

use super::super::error::FederationError;
use crate::service::AppError;

/// An actor's RSA public key, parsed for verification.
pub enum PublicKey {
    /// 2048 to 8192 bits, as PKCS#1 DER: `ring`.
    Ring(Vec<u8>),
    /// Shorter keys (some old servers), which `ring` refuses: the `rsa` crate.
    Short(rsa::RsaPublicKey),
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PublicKey::Ring(_) => "PublicKey::Ring",
            PublicKey::Short(_) => "PublicKey::Short",
        })
    }
}

impl PublicKey {
    /// A `BEGIN PUBLIC KEY` (SubjectPublicKeyInfo) or `BEGIN RSA PUBLIC KEY`
    /// (PKCS#1) PEM; `None` when it is neither.
    pub fn from_pem(pem: &str) -> Option<PublicKey> {
        let pem = pem.trim();
        let key =
            rsa::RsaPublicKey::from_public_key_pem(pem).or_else(|_| rsa::RsaPublicKey::from_pkcs1_pem(pem)).ok()?;
        if key.n().bits() < 2048 {
            return Some(PublicKey::Short(key));
        }
        Some(PublicKey::Ring(key.to_pkcs1_der().ok()?.into_vec()))
    }

    /// Whether `signature` is this key's RSASSA-PKCS1-v1_5 SHA-256 signature of `message`.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            PublicKey::Ring(der) => {
                ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, der)
                    .verify(message, signature)
                    .is_ok()
            }
            PublicKey::Short(key) => {
                key.verify(rsa::Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(message), signature).is_ok()
            }
        }
    }

    /// Whether `signature` is this key's RSASSA-PSS SHA-512 signature of
    /// `message` (RFC 9421 `rsa-pss-sha512`; 2048 bits and more only).
    pub fn verifies_pss_sha512(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            PublicKey::Ring(der) => {
                ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PSS_2048_8192_SHA512, der)
                    .verify(message, signature)
                    .is_ok()
            }
            PublicKey::Short(_) => false,
        }
    }
}

/// An actor's Ed25519 public key (32 bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ed25519Key([u8; 32]);

/// The multicodec prefix of an Ed25519 public key (0xed, as a varint).
const ED25519_MULTICODEC: [u8; 2] = [0xed, 0x01];

impl Ed25519Key {
    pub fn from_bytes(bytes: &[u8]) -> Option<Ed25519Key> {
        Some(Ed25519Key(bytes.try_into().ok()?))
    }

    /// A FEP-521a `publicKeyMultibase`: `z` (base58btc), then the multicodec
    /// prefix `0xed01` and the 32 key bytes.
    pub fn from_multibase(value: &str) -> Option<Ed25519Key> {
        let bytes = base58::decode(value.strip_prefix('z')?)?;
        Ed25519Key::from_bytes(bytes.strip_prefix(&ED25519_MULTICODEC)?)
    }

    pub fn to_multibase(&self) -> String {
        let mut bytes = ED25519_MULTICODEC.to_vec();
        bytes.extend_from_slice(&self.0);
        format!("z{}", base58::encode(&bytes))
    }

    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &self.0).verify(message, signature).is_ok()
    }
}

fn unpem(text: &str) -> Option<Vec<u8>> {
    let body: String = text.lines().map(str::trim).filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body).ok()
}

/// A local actor's Ed25519 key pair, from its PKCS#8 PEM.
pub struct Ed25519Pair(ring::signature::Ed25519KeyPair);

impl Ed25519Pair {
    pub fn from_pem(pem: &str) -> Option<Ed25519Pair> {
        ring::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&unpem(pem)?).ok().map(Ed25519Pair)
    }

    pub fn public(&self) -> Ed25519Key {
        use ring::signature::KeyPair;
        Ed25519Key::from_bytes(self.0.public_key().as_ref()).unwrap_or(Ed25519Key([0; 32]))
    }

    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.0.sign(message).as_ref().to_vec()
    }
}

/// The multibase of the public half of an Ed25519 PKCS#8 PEM (what our
/// actor documents publish); `None` when the PEM is unreadable.
pub fn ed25519_multibase_of(pem: &str) -> Option<String> {
    Ed25519Pair::from_pem(pem).map(|pair| pair.public().to_multibase())
}

/// A local actor's RSA key pair, for signing what we send.
pub struct SigningKey {
    /// `https://us/users/ada#main-key`.
    pub(super) key_id: String,
    pair: ring::signature::RsaKeyPair,
}

impl SigningKey {
    /// From the actor's id and their PKCS#8 (or PKCS#1) PEM private key.
    pub fn from_pem(actor_id: &url::Url, pem: &str) -> Result<SigningKey, FederationError> {
        SigningKey::with_key_id(format!("{actor_id}#main-key"), pem)
    }

    /// From any key id and a PKCS#8 (or PKCS#1) PEM private key.
    pub fn with_key_id(key_id: String, pem: &str) -> Result<SigningKey, FederationError> {
        use rsa::pkcs1::DecodeRsaPrivateKey;
        use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey};
        let unreadable = || FederationError::Invalid(format!("the private key of {key_id} is unreadable"));
        let private = rsa::RsaPrivateKey::from_pkcs8_pem(pem)
            .or_else(|_| rsa::RsaPrivateKey::from_pkcs1_pem(pem))
            .map_err(|_| unreadable())?;
        let der = private.to_pkcs8_der().map_err(|_| unreadable())?;
        let pair = ring::signature::RsaKeyPair::from_pkcs8(der.as_bytes()).map_err(|_| unreadable())?;
        Ok(SigningKey { key_id, pair })
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 of `message` (draft-cavage
    /// `rsa-sha256`, RFC 9421 `rsa-v1_5-sha256`).
    pub(super) fn sign_rsa_sha256(&self, message: &[u8]) -> Result<Vec<u8>, FederationError> {
        let mut signature = vec![0; self.pair.public().modulus_len()];
        self.pair
            .sign(&ring::signature::RSA_PKCS1_SHA256, &ring::rand::SystemRandom::new(), message, &mut signature)
            .map_err(|_| FederationError::App(AppError::Internal(anyhow::anyhow!("RSA signing failed"))))?;
        Ok(signature)
    }

    /// RSASSA-PSS with SHA-512 (RFC 9421 `rsa-pss-sha512`; we send
    /// `rsa-v1_5-sha256`, the tests round-trip this one).
    #[cfg(test)]
    pub(super) fn sign_pss_sha512(&self, message: &[u8]) -> Result<Vec<u8>, FederationError> {
        let mut signature = vec![0; self.pair.public().modulus_len()];
        self.pair
            .sign(&ring::signature::RSA_PSS_SHA512, &ring::rand::SystemRandom::new(), message, &mut signature)
            .map_err(|_| FederationError::App(AppError::Internal(anyhow::anyhow!("RSA signing failed"))))?;
        Ok(signature)
    }
}

/// Base58 with the Bitcoin alphabet (multibase `z`).
mod base58 {
    const ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

    pub fn encode(bytes: &[u8]) -> String {
        let zeros = bytes.iter().take_while(|b| **b == 0).count();
        // Base-58 digits, least significant first.
        let mut digits: Vec<u8> = Vec::with_capacity(bytes.len() * 138 / 100 + 1);
        for &byte in &bytes[zeros..] {
            let mut carry = byte as u32;
            for digit in digits.iter_mut() {
                carry += (*digit as u32) << 8;
                *digit = (carry % 58) as u8;
                carry /= 58;
            }
            while carry > 0 {
                digits.push((carry % 58) as u8);
                carry /= 58;
            }
        }
        let mut out = "1".repeat(zeros);
        out.extend(digits.iter().rev().map(|d| ALPHABET[*d as usize] as char));
        out
    }

    pub fn decode(text: &str) -> Option<Vec<u8>> {
        if text.len() > 256 {
            return None;
        }
        let zeros = text.bytes().take_while(|c| *c == b'1').count();
        // Bytes, least significant first.
        let mut bytes: Vec<u8> = Vec::with_capacity(text.len());
        for c in text.bytes().skip(zeros) {
            let mut carry = ALPHABET.iter().position(|a| *a == c)? as u32;
            for byte in bytes.iter_mut() {
                carry += (*byte as u32) * 58;
                *byte = (carry & 0xff) as u8;
                carry >>= 8;
            }
            while carry > 0 {
                bytes.push((carry & 0xff) as u8);
                carry >>= 8;
            }
        }
        let mut out = vec![0; zeros];
        out.extend(bytes.iter().rev());
        Some(out)
    }

    #[cfg(test)]
    #[test]
    fn known_values_round_trip() {
        // From the base58 draft (draft-msporny-base58).
        assert_eq!(encode(b"Hello World!"), "2NEpo7TZRRrLZSi2U");
        assert_eq!(encode(&[0, 0, 0x28, 0x7f, 0xb4, 0xcd]), "11233QC4");
        assert_eq!(decode("11233QC4").unwrap(), [0, 0, 0x28, 0x7f, 0xb4, 0xcd]);
        assert_eq!(decode("2NEpo7TZRRrLZSi2U").unwrap(), b"Hello World!");
        assert!(decode("0OIl").is_none());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multikeys_read_as_fep_521a_writes_them() {
        // FEP-521a's example key (an Ed25519 Multikey).
        let key = Ed25519Key::from_multibase("z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2").unwrap();
        assert_eq!(key.to_multibase(), "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2");
        // Not base58btc, not Ed25519, or the wrong length.
        for bad in [
            "6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2",
            "zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme",
            "z6Mk",
        ] {
            assert!(Ed25519Key::from_multibase(bad).is_none(), "{bad}");
        }
        let pem = crate::service::actors::generate_ed25519_pem().unwrap();
        let pair = Ed25519Pair::from_pem(&pem).unwrap();
        let public = Ed25519Key::from_multibase(&ed25519_multibase_of(&pem).unwrap()).unwrap();
        assert!(public.to_multibase().starts_with("z6Mk"));
        assert!(public.verifies(b"hello", &pair.sign(b"hello")));
        assert!(!public.verifies(b"hullo", &pair.sign(b"hello")));
    }
}
