//! RFC 9421 against the RFC's own examples (Appendix B: its test keys,
//! test request and signatures), round trips with our keys for each
//! algorithm, and tampered requests.
//!
//! The keys, the request and the signatures are RFC 9421 Appendix B
//! (<https://www.rfc-editor.org/rfc/rfc9421#appendix-B>) with the RFC 8792
//! line wrapping undone; the digests are RFC 9530's.

use axum::http::{HeaderMap, HeaderValue};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use url::Url;

use super::super::keys::{Ed25519Key, Ed25519Pair, PublicKey, SigningKey};
use super::super::sfv::{self, BareItem, Item, Member, Parameters};
use super::super::{ActorKeys, Inbound};
use super::{Key, Message, read, signature_base};

/// B.1.1 `test-key-rsa` (PKCS#1).
const TEST_KEY_RSA_PUBLIC: &str = "-----BEGIN RSA PUBLIC KEY-----
MIIBCgKCAQEAhAKYdtoeoy8zcAcR874L8cnZxKzAGwd7v36APp7Pv6Q2jdsPBRrw
WEBnez6d0UDKDwGbc6nxfEXAy5mbhgajzrw3MOEt8uA5txSKobBpKDeBLOsdJKFq
MGmXCQvEG7YemcxDTRPxAleIAgYYRjTSd/QBwVW9OwNFhekro3RtlinV0a75jfZg
kne/YiktSvLG34lw2zqXBDTC5NHROUqGTlML4PlNZS5Ri2U4aCNx2rUPRcKIlE0P
uKxI4T+HIaFpv8+rdV6eUgOrB2xeI1dSFFn/nnv5OoZJEIB+VmuKn3DCUcCZSFlQ
PSXSfBDiUGhwOw76WuSSsf1D4b/vLoJ10wIDAQAB
-----END RSA PUBLIC KEY-----";

const TEST_KEY_RSA_PRIVATE: &str = "-----BEGIN RSA PRIVATE KEY-----
MIIEqAIBAAKCAQEAhAKYdtoeoy8zcAcR874L8cnZxKzAGwd7v36APp7Pv6Q2jdsP
BRrwWEBnez6d0UDKDwGbc6nxfEXAy5mbhgajzrw3MOEt8uA5txSKobBpKDeBLOsd
JKFqMGmXCQvEG7YemcxDTRPxAleIAgYYRjTSd/QBwVW9OwNFhekro3RtlinV0a75
jfZgkne/YiktSvLG34lw2zqXBDTC5NHROUqGTlML4PlNZS5Ri2U4aCNx2rUPRcKI
lE0PuKxI4T+HIaFpv8+rdV6eUgOrB2xeI1dSFFn/nnv5OoZJEIB+VmuKn3DCUcCZ
SFlQPSXSfBDiUGhwOw76WuSSsf1D4b/vLoJ10wIDAQABAoIBAG/JZuSWdoVHbi56
vjgCgkjg3lkO1KrO3nrdm6nrgA9P9qaPjxuKoWaKO1cBQlE1pSWp/cKncYgD5WxE
CpAnRUXG2pG4zdkzCYzAh1i+c34L6oZoHsirK6oNcEnHveydfzJL5934egm6p8DW
+m1RQ70yUt4uRc0YSor+q1LGJvGQHReF0WmJBZHrhz5e63Pq7lE0gIwuBqL8SMaA
yRXtK+JGxZpImTq+NHvEWWCu09SCq0r838ceQI55SvzmTkwqtC+8AT2zFviMZkKR
Qo6SPsrqItxZWRty2izawTF0Bf5S2VAx7O+6t3wBsQ1sLptoSgX3QblELY5asI0J
YFz7LJECgYkAsqeUJmqXE3LP8tYoIjMIAKiTm9o6psPlc8CrLI9CH0UbuaA2JCOM
cCNq8SyYbTqgnWlB9ZfcAm/cFpA8tYci9m5vYK8HNxQr+8FS3Qo8N9RJ8d0U5Csw
DzMYfRghAfUGwmlWj5hp1pQzAuhwbOXFtxKHVsMPhz1IBtF9Y8jvgqgYHLbmyiu1
mwJ5AL0pYF0G7x81prlARURwHo0Yf52kEw1dxpx+JXER7hQRWQki5/NsUEtv+8RT
qn2m6qte5DXLyn83b1qRscSdnCCwKtKWUug5q2ZbwVOCJCtmRwmnP131lWRYfj67
B/xJ1ZA6X3GEf4sNReNAtaucPEelgR2nsN0gKQKBiGoqHWbK1qYvBxX2X3kbPDkv
9C+celgZd2PW7aGYLCHq7nPbmfDV0yHcWjOhXZ8jRMjmANVR/eLQ2EfsRLdW69bn
f3ZD7JS1fwGnO3exGmHO3HZG+6AvberKYVYNHahNFEw5TsAcQWDLRpkGybBcxqZo
81YCqlqidwfeO5YtlO7etx1xLyqa2NsCeG9A86UjG+aeNnXEIDk1PDK+EuiThIUa
/2IxKzJKWl1BKr2d4xAfR0ZnEYuRrbeDQYgTImOlfW6/GuYIxKYgEKCFHFqJATAG
IxHrq1PDOiSwXd2GmVVYyEmhZnbcp8CxaEMQoevxAta0ssMK3w6UsDtvUvYvF22m
qQKBiD5GwESzsFPy3Ga0MvZpn3D6EJQLgsnrtUPZx+z2Ep2x0xc5orneB5fGyF1P
WtP+fG5Q6Dpdz3LRfm+KwBCWFKQjg7uTxcjerhBWEYPmEMKYwTJF5PBG9/ddvHLQ
EQeNC8fHGg4UXU8mhHnSBt3EA10qQJfRDs15M38eG2cYwB1PZpDHScDnDA0=
-----END RSA PRIVATE KEY-----";

/// B.1.2 `test-key-rsa-pss` (its public half; the private key's PKCS#8
/// names RSASSA-PSS, which we never need to read).
const TEST_KEY_RSA_PSS_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAr4tmm3r20Wd/PbqvP1s2
+QEtvpuRaV8Yq40gjUR8y2Rjxa6dpG2GXHbPfvMs8ct+Lh1GH45x28Rw3Ry53mm+
oAXjyQ86OnDkZ5N8lYbggD4O3w6M6pAvLkhk95AndTrifbIFPNU8PPMO7OyrFAHq
gDsznjPFmTOtCEcN2Z1FpWgchwuYLPL+Wokqltd11nqqzi+bJ9cvSKADYdUAAN5W
Utzdpiy6LbTgSxP7ociU4Tn0g5I6aDZJ7A8Lzo0KSyZYoA485mqcO0GVAdVw9lq4
aOT9v6d+nb4bnNkQVklLQ3fVAvJm+xdDOp9LCNCN48V2pnDOkFV6+U9nV5oyc6XI
2wIDAQAB
-----END PUBLIC KEY-----";

/// B.1.4 `test-key-ed25519`.
const TEST_KEY_ED25519_PUBLIC: &str = "MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=";
const TEST_KEY_ED25519_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF
-----END PRIVATE KEY-----";

/// B.2's test request.
const BODY: &str = r#"{"hello": "world"}"#;
const TARGET: &str = "https://example.com/foo?param=Value&Pet=dog";
const CONTENT_DIGEST: &str =
    "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:";
const CREATED: i64 = 1618884473;

fn test_request_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("example.com"));
    headers.insert("date", HeaderValue::from_static("Tue, 20 Apr 2021 02:07:55 GMT"));
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert("content-digest", HeaderValue::from_static(CONTENT_DIGEST));
    headers.insert("content-length", HeaderValue::from_static("18"));
    headers
}

fn ed25519_test_public() -> Ed25519Key {
    let spki = STANDARD.decode(TEST_KEY_ED25519_PUBLIC).unwrap();
    Ed25519Key::from_bytes(&spki[spki.len() - 32..]).unwrap()
}

/// The covered components and parameters of a `Signature-Input` member.
fn input(value: &str) -> (Vec<Item>, Parameters) {
    match sfv::parse_dictionary(&format!("x={value}")).unwrap().remove(0).1 {
        Member::InnerList(items, params) => (items, params),
        Member::Item(_) => panic!("not an inner list"),
    }
}

#[test]
fn b_2_6_ed25519_is_reproduced_byte_for_byte_and_verifies() {
    let target = Url::parse(TARGET).unwrap();
    let headers = test_request_headers();
    let message = Message { method: "POST", target: &target, headers: &headers };
    let (covered, params) = input(
        r#"("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519""#,
    );
    let base = signature_base(&message, &covered, &params).unwrap();
    assert_eq!(
        base,
        [
            r#""date": Tue, 20 Apr 2021 02:07:55 GMT"#,
            r#""@method": POST"#,
            r#""@path": /foo"#,
            r#""@authority": example.com"#,
            r#""content-type": application/json"#,
            r#""content-length": 18"#,
            r#""@signature-params": ("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519""#,
        ]
        .join("\n")
    );
    // Ed25519 is deterministic: our signer makes the RFC's signature.
    let expected = STANDARD
        .decode("wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==")
        .unwrap();
    let pair = Ed25519Pair::from_pem(TEST_KEY_ED25519_PRIVATE).unwrap();
    assert_eq!(pair.sign(base.as_bytes()), expected);
    assert_eq!(pair.public(), ed25519_test_public());
    assert!(ed25519_test_public().verifies(base.as_bytes(), &expected));

    // As a whole request it is refused by our policy: the target has a
    // query that is not covered, and the body's digest is not covered.
    let mut headers = test_request_headers();
    headers.insert(
        "signature-input",
        format!("sig-b26={}", sfv::serialize_inner_list(&covered, &params)).parse().unwrap(),
    );
    headers.insert("signature", format!("sig-b26=:{}:", STANDARD.encode(&expected)).parse().unwrap());
    let message = Message { method: "POST", target: &target, headers: &headers };
    let refused = read(&message, BODY.as_bytes(), CREATED).unwrap_err();
    assert!(refused.contains("@target-uri"), "{refused}");
    let without_query = Url::parse("https://example.com/foo").unwrap();
    let message = Message { method: "POST", target: &without_query, headers: &headers };
    let refused = read(&message, BODY.as_bytes(), CREATED).unwrap_err();
    assert!(refused.contains("content-digest"), "{refused}");
    // Without a body, it is enough, and verifies with the key, only with it.
    let signatures = read(&message, b"", CREATED).unwrap();
    assert_eq!(signatures[0].key_id, "test-key-ed25519");
    signatures[0].verify_with(Key::Ed25519(&ed25519_test_public())).unwrap();
    let other = Ed25519Pair::from_pem(&crate::service::actors::generate_ed25519_pem().unwrap()).unwrap().public();
    assert!(signatures[0].verify_with(Key::Ed25519(&other)).is_err());
}

#[test]
fn b_2_3_rsa_pss_meets_our_whole_policy() {
    let target = Url::parse(TARGET).unwrap();
    let mut headers = test_request_headers();
    headers.insert(
        "signature-input",
        HeaderValue::from_static(
            r#"sig-b23=("date" "@method" "@path" "@query" "@authority" "content-type" "content-digest" "content-length");created=1618884473;keyid="test-key-rsa-pss""#,
        ),
    );
    headers.insert("signature", HeaderValue::from_static(
        "sig-b23=:bbN8oArOxYoyylQQUU6QYwrTuaxLwjAC9fbY2F6SVWvh0yBiMIRGOnMYwZ/5MR6fb0Kh1rIRASVxFkeGt683+qRpRRU5p2voTp768ZrCUb38K0fUxN0O0iC59DzYx8DFll5GmydPxSmme9v6ULbMFkl+V5B1TP/yPViV7KsLNmvKiLJH1pFkh/aYA2HXXZzNBXmIkoQoLd7YfW91kE9o/CCoC1xMy7JA1ipwvKvfrs65ldmlu9bpG6A9BmzhuzF8Eim5f8ui9eH8LZH896+QIF61ka39VBrohr9iyMUJpvRX2Zbhl5ZJzSRxpJyoEZAFL2FUo5fTIztsDZKEgM4cUA==:",
    ));
    let message = Message { method: "POST", target: &target, headers: &headers };
    let pss = PublicKey::from_pem(TEST_KEY_RSA_PSS_PUBLIC).unwrap();
    let signatures = read(&message, BODY.as_bytes(), CREATED + 30).unwrap();
    assert_eq!(signatures.len(), 1);
    assert_eq!((signatures[0].label.as_str(), signatures[0].alg), ("sig-b23", None));
    // No `alg`: the RSA key tries PKCS#1 v1.5, then PSS, which it is.
    signatures[0].verify_with(Key::Rsa(&pss)).unwrap();
    assert!(signatures[0].verify_with(Key::Rsa(&PublicKey::from_pem(TEST_KEY_RSA_PUBLIC).unwrap())).is_err());

    // Anything else: refused before or at the key.
    let later = read(&message, BODY.as_bytes(), CREATED + 2 * 3600).unwrap_err();
    assert!(later.contains("more than an hour ago"), "{later}");
    let earlier = read(&message, BODY.as_bytes(), CREATED - 120).unwrap_err();
    assert!(earlier.contains("in the future"), "{earlier}");
    let tampered_body = read(&message, br#"{"hello": "World"}"#, CREATED).unwrap_err();
    assert!(tampered_body.contains("does not match the body"), "{tampered_body}");
    let get = Message { method: "GET", ..message };
    let signatures = read(&get, BODY.as_bytes(), CREATED).unwrap();
    assert!(signatures[0].verify_with(Key::Rsa(&pss)).is_err(), "another method");
    let elsewhere = Url::parse("https://example.com/bar?param=Value&Pet=dog").unwrap();
    let moved = Message { target: &elsewhere, ..message };
    assert!(read(&moved, BODY.as_bytes(), CREATED).unwrap()[0].verify_with(Key::Rsa(&pss)).is_err(), "another path");
}

#[test]
fn b_2_1_minimal_signature_verifies_but_covers_too_little() {
    let target = Url::parse(TARGET).unwrap();
    let mut headers = test_request_headers();
    let (covered, params) = input(r#"();created=1618884473;keyid="test-key-rsa-pss";nonce="b3k2pp5k7z-50gnwp.yemd""#);
    let message = Message { method: "POST", target: &target, headers: &headers };
    let base = signature_base(&message, &covered, &params).unwrap();
    assert_eq!(
        base,
        r#""@signature-params": ();created=1618884473;keyid="test-key-rsa-pss";nonce="b3k2pp5k7z-50gnwp.yemd""#
    );
    let signature = STANDARD.decode("d2pmTvmbncD3xQm8E9ZV2828BjQWGgiwAaw5bAkgibUopemLJcWDy/lkbbHAve4cRAtx31Iq786U7it++wgGxbtRxf8Udx7zFZsckzXaJMkA7ChG52eSkFxykJeNqsrWH5S+oxNFlD4dzVuwe8DhTSja8xxbR/Z2cOGdCbzR72rgFWhzx2VjBqJzsPLMIQKhO4DGezXehhWwE56YCE+O6c0mKZsfxVrogUvA4HELjVKWmAvtl6UnCh8jYzuVG5WSb/QEVPnP5TmcAnLH1g+s++v6d4s8m0gCw1fV5/SITLq9mhho8K3+7EPYTU8IU1bLhdxO5Nyt8C8ssinQ98Xw9Q==").unwrap();
    assert!(PublicKey::from_pem(TEST_KEY_RSA_PSS_PUBLIC).unwrap().verifies_pss_sha512(base.as_bytes(), &signature));
    headers.insert(
        "signature-input",
        format!("sig-b21={}", sfv::serialize_inner_list(&covered, &params)).parse().unwrap(),
    );
    headers.insert("signature", format!("sig-b21=:{}:", STANDARD.encode(&signature)).parse().unwrap());
    let message = Message { method: "POST", target: &target, headers: &headers };
    assert!(read(&message, BODY.as_bytes(), CREATED).unwrap_err().contains("must cover @method"));
}

/// A request to `https://us.example/inbox` carrying `body`, signed (with
/// the label `label`) over `covered` with `params` by `sign`.
fn signed(headers: &mut HeaderMap, label: &str, covered: &[&str], params: Parameters, sign: impl Fn(&[u8]) -> Vec<u8>) {
    let target = Url::parse(INBOX).unwrap();
    let covered: Vec<Item> =
        covered.iter().map(|name| Item { bare: BareItem::String(name.to_string()), params: vec![] }).collect();
    let message = Message { method: "POST", target: &target, headers };
    // (A base we cannot make, as for `@status`: sign anything.)
    let base = signature_base(&message, &covered, &params).unwrap_or_default();
    let signature = sign(base.as_bytes());
    let append = |headers: &mut HeaderMap, name: &'static str, value: String| {
        let joined = match headers.get(name) {
            Some(old) => format!("{}, {value}", old.to_str().unwrap()),
            None => value,
        };
        headers.insert(name, joined.parse().unwrap());
    };
    append(headers, "signature-input", format!("{label}={}", sfv::serialize_inner_list(&covered, &params)));
    append(headers, "signature", format!("{label}=:{}:", STANDARD.encode(signature)));
}

const INBOX: &str = "https://us.example/inbox";
const ACTIVITY: &str = r#"{"type":"Follow"}"#;
const NOW: i64 = 1_800_000_000;

fn params(key_id: &str, alg: Option<&str>, created: Option<i64>) -> Parameters {
    let mut params: Parameters = Vec::new();
    if let Some(created) = created {
        params.push(("created".into(), BareItem::Integer(created)));
    }
    params.push(("keyid".into(), BareItem::String(key_id.into())));
    if let Some(alg) = alg {
        params.push(("alg".into(), BareItem::String(alg.into())));
    }
    params
}

fn body_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/activity+json"));
    headers.insert("content-digest", super::content_digest(ACTIVITY.as_bytes()).parse().unwrap());
    headers
}

const COVERED: &[&str] = &["@method", "@target-uri", "content-digest"];

/// The actor `https://them.example/users/a` with both kinds of key.
struct Them {
    rsa: SigningKey,
    rsa_public: PublicKey,
    ed25519: Ed25519Pair,
    ed25519_public: Ed25519Key,
}

const RSA_ID: &str = "https://them.example/users/a#main-key";
const ED_ID: &str = "https://them.example/users/a#ed25519-key";

/// Keys made as we make our actors' keys.
fn them() -> Them {
    static RSA: std::sync::LazyLock<activitypub_federation::http_signatures::Keypair> =
        std::sync::LazyLock::new(|| activitypub_federation::http_signatures::generate_actor_keypair().unwrap());
    let ed25519 = Ed25519Pair::from_pem(&crate::service::actors::generate_ed25519_pem().unwrap()).unwrap();
    Them {
        rsa: SigningKey::with_key_id(RSA_ID.into(), &RSA.private_key).unwrap(),
        rsa_public: PublicKey::from_pem(&RSA.public_key).unwrap(),
        ed25519_public: ed25519.public(),
        ed25519,
    }
}

#[test]
fn the_rfc_rsa_key_round_trips_with_pkcs1_v1_5() {
    // `test-key-rsa` has primes of unequal length, which ring will not sign
    // with: the `rsa` crate signs, we check.
    use rsa::pkcs1::DecodeRsaPrivateKey;
    use rsa::signature::{SignatureEncoding, Signer};
    let private = rsa::RsaPrivateKey::from_pkcs1_pem(TEST_KEY_RSA_PRIVATE).unwrap();
    let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(private);
    let public = PublicKey::from_pem(TEST_KEY_RSA_PUBLIC).unwrap();
    let mut headers = body_headers();
    signed(&mut headers, "sig1", COVERED, params("test-key-rsa", Some("rsa-v1_5-sha256"), Some(NOW)), |m| {
        signer.sign(m).to_vec()
    });
    let keys = ActorKeys { rsa_id: "test-key-rsa", rsa: Some(&public), ed25519: None };
    assert_eq!(inbox_check(&headers, ACTIVITY, &keys), Ok(()));
    assert!(inbox_check(&headers, r#"{"type":"Undo"}"#, &keys).is_err());
}

impl Them {
    fn keys(&self) -> ActorKeys<'_> {
        ActorKeys { rsa_id: RSA_ID, rsa: Some(&self.rsa_public), ed25519: Some((ED_ID, &self.ed25519_public)) }
    }
}

/// Reads and verifies as the inbox does, at [`NOW`].
fn inbox_check(headers: &HeaderMap, body: &str, keys: &ActorKeys) -> Result<(), String> {
    let uri: axum::http::Uri = "/inbox".parse().unwrap();
    let mut headers = headers.clone();
    headers.insert("host", HeaderValue::from_static("us.example"));
    let inbound =
        Inbound::read(&axum::http::Method::POST, &uri, &headers, body.as_bytes(), ("https", "us.example"), NOW * 1000)
            .map_err(|e| e.message())?;
    inbound.verify(keys).map_err(|e| e.message())
}

#[test]
fn each_algorithm_round_trips_with_our_keys() {
    let them = them();
    let sign_v15 = |m: &[u8]| them.rsa.sign_rsa_sha256(m).unwrap();
    let sign_pss = |m: &[u8]| them.rsa.sign_pss_sha512(m).unwrap();
    let sign_ed = |m: &[u8]| them.ed25519.sign(m);
    for (alg, key_id, sign) in [
        (Some("rsa-v1_5-sha256"), RSA_ID, &sign_v15 as &dyn Fn(&[u8]) -> Vec<u8>),
        (None, RSA_ID, &sign_v15),
        (Some("rsa-pss-sha512"), RSA_ID, &sign_pss),
        (None, RSA_ID, &sign_pss),
        (Some("ed25519"), ED_ID, &sign_ed),
        (None, ED_ID, &sign_ed),
    ] {
        let mut headers = body_headers();
        signed(&mut headers, "sig1", COVERED, params(key_id, alg, Some(NOW - 10)), sign);
        assert_eq!(inbox_check(&headers, ACTIVITY, &them.keys()), Ok(()), "{alg:?} {key_id}");
        // @authority + @path is as good as @target-uri.
        let mut headers = body_headers();
        signed(
            &mut headers,
            "sig1",
            &["@method", "@authority", "@path", "content-digest"],
            params(key_id, alg, Some(NOW)),
            sign,
        );
        assert_eq!(inbox_check(&headers, ACTIVITY, &them.keys()), Ok(()), "{alg:?} {key_id}");
    }
}

#[test]
fn what_we_send_is_what_we_take() {
    let them = them();
    let inbox = Url::parse(INBOX).unwrap();
    let mut headers = HeaderMap::new();
    for (name, value) in them.rsa.sign_post_rfc9421(&inbox, ACTIVITY.as_bytes(), NOW).unwrap() {
        headers.insert(name, value.parse().unwrap());
    }
    assert_eq!(
        headers["signature-input"],
        format!(
            r#"sig1=("@method" "@target-uri" "content-type" "content-digest");created={NOW};keyid="{RSA_ID}";alg="rsa-v1_5-sha256""#
        )
    );
    assert_eq!(inbox_check(&headers, ACTIVITY, &them.keys()), Ok(()));
    // PKCS#1 v1.5 is deterministic: the same request signs the same.
    let mut again = HeaderMap::new();
    for (name, value) in them.rsa.sign_post_rfc9421(&inbox, ACTIVITY.as_bytes(), NOW).unwrap() {
        again.insert(name, value.parse().unwrap());
    }
    assert_eq!(headers["signature"], again["signature"]);
}

#[test]
fn the_gets_we_sign_are_what_we_would_take_and_cover_only_what_a_get_has() {
    let them = them();
    let target = Url::parse("https://us.example/users/masto?page=1").unwrap();
    let mut headers = HeaderMap::new();
    for (name, value) in them.rsa.sign_get_rfc9421(&target, NOW).unwrap() {
        headers.insert(name, value.parse().unwrap());
    }
    assert_eq!(
        headers["signature-input"],
        format!(r#"sig1=("@method" "@target-uri");created={NOW};keyid="{RSA_ID}";alg="rsa-v1_5-sha256""#)
    );
    let check = |method: &axum::http::Method, path: &str| {
        let uri: axum::http::Uri = path.parse().unwrap();
        let mut headers = headers.clone();
        headers.insert("host", HeaderValue::from_static("us.example"));
        Inbound::read(method, &uri, &headers, b"", ("https", "us.example"), NOW * 1000)
            .and_then(|inbound| inbound.verify(&them.keys()))
            .map_err(|e| e.message())
    };
    assert_eq!(check(&axum::http::Method::GET, "/users/masto?page=1"), Ok(()));
    // Another page, another method: not what was signed.
    assert!(check(&axum::http::Method::GET, "/users/masto?page=2").is_err());
    assert!(check(&axum::http::Method::HEAD, "/users/masto?page=1").is_err());
}

#[test]
fn tampered_requests_are_refused_with_their_reason() {
    let them = them();
    let good = |tweak: &dyn Fn(&mut HeaderMap)| {
        let mut headers = body_headers();
        signed(&mut headers, "sig1", COVERED, params(RSA_ID, Some("rsa-v1_5-sha256"), Some(NOW)), |m| {
            them.rsa.sign_rsa_sha256(m).unwrap()
        });
        tweak(&mut headers);
        headers
    };
    assert_eq!(inbox_check(&good(&|_| {}), ACTIVITY, &them.keys()), Ok(()));
    let check = |headers: HeaderMap, body: &str| inbox_check(&headers, body, &them.keys()).unwrap_err();
    let sign_with = |covered: &[&str], params: Parameters| {
        let mut headers = body_headers();
        signed(&mut headers, "sig1", covered, params, |m| them.rsa.sign_rsa_sha256(m).unwrap());
        headers
    };

    // The body, or its digest.
    assert!(check(good(&|_| {}), r#"{"type":"Undo"}"#).contains("does not match the body"));
    let other_digest = super::content_digest(b"{}");
    assert!(
        check(good(&|h| drop(h.insert("content-digest", other_digest.parse().unwrap()))), ACTIVITY)
            .contains("does not match")
    );
    assert!(check(good(&|h| drop(h.remove("content-digest"))), ACTIVITY).contains("Content-Digest"));
    assert!(
        check(sign_with(&["@method", "@target-uri"], params(RSA_ID, None, Some(NOW))), ACTIVITY)
            .contains("content-digest")
    );
    // The target or the method (covered but not what was signed).
    let uri: axum::http::Uri = "/users/a/inbox".parse().unwrap();
    let mut moved = good(&|_| {});
    moved.insert("host", HeaderValue::from_static("us.example"));
    let read = Inbound::read(
        &axum::http::Method::POST,
        &uri,
        &moved,
        ACTIVITY.as_bytes(),
        ("https", "us.example"),
        NOW * 1000,
    )
    .unwrap();
    assert!(read.verify(&them.keys()).unwrap_err().message().contains("does not verify"));
    let read = Inbound::read(
        &axum::http::Method::PUT,
        &"/inbox".parse().unwrap(),
        &moved,
        ACTIVITY.as_bytes(),
        ("https", "us.example"),
        NOW * 1000,
    )
    .unwrap();
    assert!(read.verify(&them.keys()).is_err());
    assert!(
        check(sign_with(&["@target-uri", "content-digest"], params(RSA_ID, None, Some(NOW))), ACTIVITY)
            .contains("@method")
    );
    // `created`: missing, too old, ahead; `expires` past.
    assert!(check(sign_with(COVERED, params(RSA_ID, None, None)), ACTIVITY).contains("no created time"));
    assert!(
        check(sign_with(COVERED, params(RSA_ID, None, Some(NOW - 3601))), ACTIVITY).contains("more than an hour ago")
    );
    assert!(check(sign_with(COVERED, params(RSA_ID, None, Some(NOW + 61))), ACTIVITY).contains("in the future"));
    let mut expired = params(RSA_ID, None, Some(NOW - 10));
    expired.push(("expires".into(), BareItem::Integer(NOW - 1)));
    assert!(check(sign_with(COVERED, expired), ACTIVITY).contains("expired"));
    // Algorithms we do not take, or that do not suit the key.
    assert!(
        check(sign_with(COVERED, params(RSA_ID, Some("hmac-sha256"), Some(NOW))), ACTIVITY)
            .contains("an algorithm we do not take")
    );
    assert!(
        check(sign_with(COVERED, params(RSA_ID, Some("rsa-sha256"), Some(NOW))), ACTIVITY)
            .contains("rsa-sha256, an algorithm")
    );
    assert!(check(sign_with(COVERED, params(RSA_ID, Some("ed25519"), Some(NOW))), ACTIVITY).contains("not such a key"));
    assert!(
        check(sign_with(COVERED, params(RSA_ID, Some("rsa-pss-sha512"), Some(NOW))), ACTIVITY)
            .contains("does not verify")
    );
    // A key id that is not one of the actor's keys (another actor's), or none.
    assert!(
        check(sign_with(COVERED, params("https://them.example/users/b#main-key", None, Some(NOW))), ACTIVITY)
            .contains("not one of the actor's keys")
    );
    let mut no_key = params(RSA_ID, None, Some(NOW));
    no_key.retain(|(name, _)| name != "keyid");
    assert!(check(sign_with(COVERED, no_key), ACTIVITY).contains("no keyid"));
    // Malformed fields, and a Signature without its input.
    assert!(
        check(good(&|h| drop(h.insert("signature-input", HeaderValue::from_static("sig1=(\"@method\"")))), ACTIVITY)
            .contains("malformed")
    );
    assert!(
        check(good(&|h| drop(h.insert("signature", HeaderValue::from_static("sig2=:AAAA:")))), ACTIVITY)
            .contains("sig2")
    );
    assert!(
        check(good(&|h| drop(h.insert("signature", HeaderValue::from_static("sig1=\"AAAA\"")))), ACTIVITY)
            .contains("byte sequence")
    );
    // Covered fields the request does not have, and components we do not take.
    let mut with_date = body_headers();
    with_date.insert("date", HeaderValue::from_static("Tue, 20 Apr 2021 02:07:55 GMT"));
    signed(
        &mut with_date,
        "sig1",
        &["@method", "@target-uri", "content-digest", "date"],
        params(RSA_ID, None, Some(NOW)),
        |m| them.rsa.sign_rsa_sha256(m).unwrap(),
    );
    assert_eq!(inbox_check(&with_date, ACTIVITY, &them.keys()), Ok(()));
    with_date.remove("date");
    assert!(check(with_date, ACTIVITY).contains("the covered field date is missing"));
    assert!(
        check(
            sign_with(&["@method", "@target-uri", "content-digest", "@status"], params(RSA_ID, None, Some(NOW))),
            ACTIVITY
        )
        .contains("responses")
    );
}

#[test]
fn every_signature_on_a_request_must_verify() {
    let them = them();
    let mut headers = body_headers();
    signed(&mut headers, "sig1", COVERED, params(RSA_ID, None, Some(NOW)), |m| them.rsa.sign_rsa_sha256(m).unwrap());
    signed(&mut headers, "sig2", COVERED, params(ED_ID, Some("ed25519"), Some(NOW)), |m| them.ed25519.sign(m));
    assert_eq!(inbox_check(&headers, ACTIVITY, &them.keys()), Ok(()));
    // The second made by another key: the whole request is refused.
    let stranger = Ed25519Pair::from_pem(&crate::service::actors::generate_ed25519_pem().unwrap()).unwrap();
    let mut headers = body_headers();
    signed(&mut headers, "sig1", COVERED, params(RSA_ID, None, Some(NOW)), |m| them.rsa.sign_rsa_sha256(m).unwrap());
    signed(&mut headers, "sig2", COVERED, params(ED_ID, Some("ed25519"), Some(NOW)), |m| stranger.sign(m));
    let refused = inbox_check(&headers, ACTIVITY, &them.keys()).unwrap_err();
    assert!(refused.contains("sig2 does not verify"), "{refused}");
    // Or stale.
    let mut headers = body_headers();
    signed(&mut headers, "sig1", COVERED, params(RSA_ID, None, Some(NOW)), |m| them.rsa.sign_rsa_sha256(m).unwrap());
    signed(&mut headers, "sig2", COVERED, params(ED_ID, None, Some(NOW - 7200)), |m| them.ed25519.sign(m));
    assert!(
        inbox_check(&headers, ACTIVITY, &them.keys()).unwrap_err().contains("sig2 was created more than an hour ago")
    );
    // Five signatures are too many to read.
    let mut headers = body_headers();
    for n in 0..5 {
        signed(&mut headers, &format!("s{n}"), COVERED, params(RSA_ID, None, Some(NOW)), |m| {
            them.rsa.sign_rsa_sha256(m).unwrap()
        });
    }
    assert!(inbox_check(&headers, ACTIVITY, &them.keys()).unwrap_err().contains("more than 4 signatures"));
    // Without an Ed25519 key the actor's Multikey id names nothing.
    let rsa_only = ActorKeys { ed25519: None, ..them.keys() };
    let mut headers = body_headers();
    signed(&mut headers, "sig1", COVERED, params(ED_ID, None, Some(NOW)), |m| them.ed25519.sign(m));
    assert!(inbox_check(&headers, ACTIVITY, &rsa_only).unwrap_err().contains("not one of the actor's keys"));
}
