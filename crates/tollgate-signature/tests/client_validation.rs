//! Public Key Client Validation, checked differentially against the official
//! `twilio` Python package: it generates keys and real `ClientValidationJwt`
//! tokens for real prepared requests, which this crate must accept, and
//! reject with Twilio's codes once anything is changed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::OnceLock;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use proptest::prelude::*;
use serde_json::{Value, json};
use tollgate_signature::client_validation::{
    Algorithm, ClientValidationError, Expected, KeyError, PublicKey, Request, canonical_request,
    request_hash, verify,
};

/// A 2048-bit public key, for tests that need no signing.
const FIXED_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA68pEpgXdPcnocmK0N7zs
RbemUsiC0DioOtpom4PO3RTrSp+5YlpCTnfs9QipyjMyli23ShCeRspUUp4Aj0vx
w/oZiD/9YO4kbEzVchpq1z8vEINRswqFM+W4nW/bDX+yduR51yhUr2dP6Z6lgj/2
xT0grv8hxm2GYUypzHRLjEEZd1bpgEKbgoNviea26enN2qDeOIJb2qz1H89n47Xe
Ms5kQr6tnqGvhgg6m3+UjXSJ+W5eWzwao41LdaaWds43qlNPudvVHCEnCHvIl6cM
WIfP+9Wbkzfo2QtFqiD4ZHGjW5e/rYI4Eect7sgJwV7aMuqrgb241xDPo7shK6mY
pQIDAQAB
-----END PUBLIC KEY-----
";

/// Generates keys and signs real requests with `twilio.http.validation_client`.
/// The HTTP send is replaced by a capture; `_hash` is spied on to record the
/// canonical request string the client hashed.
const PYTHON: &str = r#"
import base64, json
from urllib.parse import urlparse
from cryptography.hazmat.primitives import serialization as s
from cryptography.hazmat.primitives.asymmetric import rsa, ec
import twilio.http.validation_client as vc
from twilio.jwt.validation import ClientValidationJwt

ACC = "AC" + "1" * 32
SK = "SK" + "2" * 32
CR = "CR" + "3" * 32

def pub(k, fmt=s.PublicFormat.SubjectPublicKeyInfo):
    return k.public_key().public_bytes(s.Encoding.PEM, fmt).decode()

key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
priv_pem = key.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()).decode()
out = {
    "account_sid": ACC, "api_key_sid": SK, "credential_sid": CR,
    "spki_pem": pub(key),
    "pkcs1_pem": pub(key, s.PublicFormat.PKCS1),
    "private_pem": priv_pem,
    "pkcs8_b64": base64.b64encode(key.private_bytes(
        s.Encoding.DER, s.PrivateFormat.PKCS8, s.NoEncryption())).decode(),
    "other_pem": pub(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
    "rsa3072_pem": pub(rsa.generate_private_key(public_exponent=65537, key_size=3072)),
    "rsa1024_pem": pub(rsa.generate_private_key(public_exponent=65537, key_size=1024)),
    "rsa_e3_pem": pub(rsa.generate_private_key(public_exponent=3, key_size=2048)),
    "ec_pem": pub(ec.generate_private_key(ec.SECP256R1())),
    "cases": [],
}

captured = []
orig_hash = ClientValidationJwt.__dict__["_hash"].__func__
def spy(cls, value):
    captured.append(value)
    return orig_hash(cls, value)
ClientValidationJwt._hash = classmethod(spy)

class PS256Jwt(ClientValidationJwt):
    ALGORITHM = "PS256"

class Resp:
    status_code = 200
    text = ""

def run(name, method, url, alg="RS256", cred=CR, **kw):
    vc.ClientValidationJwt = PS256Jwt if alg == "PS256" else ClientValidationJwt
    client = vc.ValidationClient(ACC, SK, cred, priv_pem)
    sent = {}
    def send(prepared, **_):
        sent["p"] = prepared
        return Resp()
    client.session.send = send
    del captured[:]
    client.request(method, url, auth=(SK, "api-key-secret"), **kw)
    p = sent["p"]
    u = urlparse(p.url)
    body = p.body or b""
    if isinstance(body, str):
        body = body.encode("utf-8")
    out["cases"].append({
        "name": name, "method": p.method, "path": u.path, "query": u.query,
        "headers": [[k, v] for k, v in p.headers.items()],
        "body_b64": base64.b64encode(body).decode(),
        "canonical": captured[-1],
        "token": p.headers["Twilio-Client-Validation"],
    })

base = "https://api.twilio.com/2010-04-01/Accounts/" + ACC
run("post_form", "POST", base + "/Messages.json",
    params={"z": "last", "a": "first b", "m": ["2", "1"]},
    data={"To": "+15558675310", "From": "+15017122661", "Body": "Héllo wörld & more=1"})
run("get_plain", "GET", base + ".json")
run("ps256_post", "POST", base + "/Calls.json", alg="PS256",
    data={"Url": "http://demo.twilio.com/docs/voice.xml"})
run("port_and_query", "GET", "https://api.twilio.com:8443/2010-04-01/Accounts.json?PageSize=20&FriendlyName=a%20b")
run("unregistered_kid", "GET", base + ".json", cred="CR" + "9" * 32)
print(json.dumps(out))
"#;

struct Case {
    name: String,
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    canonical: String,
    token: String,
}

impl Case {
    fn header_refs(&self) -> Vec<(&str, &str)> {
        self.headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect()
    }

    /// The token's `nbf`: the Python client's "now".
    fn issued_at(&self) -> i64 {
        claims_of(&self.token)
            .get("nbf")
            .and_then(Value::as_i64)
            .unwrap()
    }
}

struct Fixture {
    account_sid: String,
    api_key_sid: String,
    credential_sid: String,
    key: PublicKey,
    other_key: PublicKey,
    pems: Value,
    signer: RsaKeyPair,
    cases: Vec<Case>,
}

impl Fixture {
    fn case(&self, name: &str) -> &Case {
        self.cases.iter().find(|c| c.name == name).unwrap()
    }

    fn expected(&self) -> Expected<'_> {
        Expected {
            account_sid: &self.account_sid,
            api_key_sid: Some(&self.api_key_sid),
        }
    }

    fn key_for<'a>(&'a self) -> impl Fn(&str) -> Option<&'a PublicKey> + 'a {
        move |kid| (kid == self.credential_sid).then_some(&self.key)
    }

    /// Verifies `token` against `request` at `now`; the error code on failure.
    fn check(&self, token: &str, request: &Request<'_>, now: i64) -> Result<(), u32> {
        verify(token, request, &self.expected(), self.key_for(), now)
            .map(|_| ())
            .map_err(|e| e.code())
    }

    /// Signs `header.claims` with the fixture's private key (RS256).
    fn sign(&self, header: &Value, claims: &[u8]) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims)
        );
        let mut signature = vec![0u8; self.signer.public_modulus_len()];
        self.signer
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                input.as_bytes(),
                &mut signature,
            )
            .unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    fn header(&self) -> Value {
        json!({"cty": "twilio-pkrv;v=1", "typ": "JWT", "alg": "RS256", "kid": self.credential_sid})
    }
}

fn claims_of(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn header_of(token: &str) -> Value {
    let part = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn python_available() -> bool {
    std::process::Command::new("python3")
        .args(["-c", "import twilio.jwt.validation, cryptography"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn fixture() -> Option<&'static Fixture> {
    static FIXTURE: OnceLock<Option<Fixture>> = OnceLock::new();
    FIXTURE
        .get_or_init(|| {
            if !python_available() {
                eprintln!(
                    "NOTE: python3 with the `twilio` and `cryptography` packages is missing; \
                     skipping the differential client-validation tests"
                );
                return None;
            }
            let output = std::process::Command::new("python3")
                .args(["-c", PYTHON])
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "python failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            let out: Value = serde_json::from_slice(&output.stdout).unwrap();
            let s = |k: &str| out.get(k).and_then(Value::as_str).unwrap().to_owned();
            let cases = out
                .get("cases")
                .unwrap()
                .as_array()
                .unwrap()
                .iter()
                .map(|c| Case {
                    name: c["name"].as_str().unwrap().to_owned(),
                    method: c["method"].as_str().unwrap().to_owned(),
                    path: c["path"].as_str().unwrap().to_owned(),
                    query: c["query"].as_str().unwrap().to_owned(),
                    headers: c["headers"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|h| {
                            (
                                h[0].as_str().unwrap().to_owned(),
                                h[1].as_str().unwrap().to_owned(),
                            )
                        })
                        .collect(),
                    body: STANDARD.decode(c["body_b64"].as_str().unwrap()).unwrap(),
                    canonical: c["canonical"].as_str().unwrap().to_owned(),
                    token: c["token"].as_str().unwrap().to_owned(),
                })
                .collect();
            let pkcs8 = STANDARD.decode(s("pkcs8_b64")).unwrap();
            Some(Fixture {
                account_sid: s("account_sid"),
                api_key_sid: s("api_key_sid"),
                credential_sid: s("credential_sid"),
                key: PublicKey::from_pem(&s("spki_pem")).unwrap(),
                other_key: PublicKey::from_pem(&s("other_pem")).unwrap(),
                signer: RsaKeyPair::from_pkcs8(&pkcs8).unwrap(),
                pems: out,
                cases,
            })
        })
        .as_ref()
}

/// Verifies `case` as sent, at the time it was issued.
fn verify_case(f: &Fixture, case: &Case) -> Result<(), u32> {
    let headers = case.header_refs();
    let request = Request {
        method: &case.method,
        path: &case.path,
        query: &case.query,
        headers: &headers,
        body: &case.body,
    };
    f.check(&case.token, &request, case.issued_at())
}

#[test]
fn python_test_suite_vector() {
    let body = b"me=letop&you=leworst";
    let expected = format!(
        "GET\nhttps://api.twilio.com/\nq1=v1\nheadera:vala\nheaderb:valb\n\nheadera;headerb\n{}",
        tollgate_signature::body_sha256_hex(body)
    );
    let headers = [("headera", "vala"), ("headerb", "valb")];
    let signed = ["headera", "headerb"];
    let args = ("GET", "https://api.twilio.com/", "q1=v1");
    assert_eq!(
        canonical_request(args.0, args.1, args.2, &headers, &signed, body),
        expected
    );
    assert_eq!(
        request_hash(args.0, args.1, args.2, &headers, &signed, body),
        tollgate_signature::body_sha256_hex(expected.as_bytes())
    );
}

#[test]
fn real_python_tokens_verify_and_canonical_strings_match() {
    let Some(f) = fixture() else { return };
    for case in f.cases.iter().filter(|c| c.name != "unregistered_kid") {
        let headers = case.header_refs();
        assert_eq!(
            canonical_request(
                &case.method,
                &case.path,
                &case.query,
                &headers,
                &["authorization", "host"],
                &case.body
            ),
            case.canonical,
            "{}",
            case.name
        );
        let request = Request {
            method: &case.method,
            path: &case.path,
            query: &case.query,
            headers: &headers,
            body: &case.body,
        };
        let now = case.issued_at();
        let verified = verify(&case.token, &request, &f.expected(), f.key_for(), now)
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert_eq!(verified.kid, f.credential_sid);
        assert_eq!(verified.iss, f.api_key_sid);
        assert_eq!(verified.exp, now + 300);
        assert_eq!(verified.nbf, Some(now));
        let alg = if case.name == "ps256_post" {
            Algorithm::Ps256
        } else {
            Algorithm::Rs256
        };
        assert_eq!(verified.algorithm, alg, "{}", case.name);
        assert_eq!(header_of(&case.token)["alg"], alg.as_str());
    }
    // The same key registered in its PKCS#1 form verifies too.
    let pkcs1 = PublicKey::from_pem(f.pems["pkcs1_pem"].as_str().unwrap()).unwrap();
    let case = f.case("get_plain");
    let headers = case.header_refs();
    let request = Request {
        method: &case.method,
        path: &case.path,
        query: &case.query,
        headers: &headers,
        body: &case.body,
    };
    verify(
        &case.token,
        &request,
        &f.expected(),
        |_| Some(&pkcs1),
        case.issued_at(),
    )
    .unwrap();
}

#[test]
fn the_official_shapes_are_what_we_expect() {
    let Some(f) = fixture() else { return };
    let case = f.case("post_form");
    assert!(case.query.contains('&') && !case.body.is_empty());
    let claims = claims_of(&case.token);
    assert_eq!(claims["hrh"], "authorization;host");
    assert_eq!(claims["iss"], f.api_key_sid.as_str());
    assert_eq!(claims["sub"], f.account_sid.as_str());
    let header = header_of(&case.token);
    assert_eq!(header["cty"], "twilio-pkrv;v=1");
    assert_eq!(header["kid"], f.credential_sid.as_str());
    // Empty query and empty body: the canonical string has empty lines.
    let get = f.case("get_plain");
    assert!(get.query.is_empty() && get.body.is_empty());
    assert!(get.canonical.ends_with("\n\nauthorization;host\n"));
    assert!(
        f.case("port_and_query")
            .canonical
            .contains("\nhost:api.twilio.com:8443\n")
    );
}

#[test]
fn changed_requests_fail_with_the_right_code() {
    let Some(f) = fixture() else { return };
    for case in f.cases.iter().filter(|c| c.name != "unregistered_kid") {
        assert_eq!(verify_case(f, case), Ok(()), "{}", case.name);
        let now = case.issued_at();
        let headers = case.header_refs();
        let check =
            |method: &str, path: &str, query: &str, headers: &[(&str, &str)], body: &[u8]| {
                let request = Request {
                    method,
                    path,
                    query,
                    headers,
                    body,
                };
                f.check(&case.token, &request, now)
            };
        let (m, p, q, b) = (
            case.method.as_str(),
            case.path.as_str(),
            case.query.as_str(),
            case.body.as_slice(),
        );
        let name = &case.name;

        let mut body = b.to_vec();
        body.push(b'x');
        assert_eq!(check(m, p, q, &headers, &body), Err(70156), "{name} body");
        if !b.is_empty() {
            assert_eq!(check(m, p, q, &headers, b""), Err(70156), "{name} no body");
        }
        assert_eq!(check("PUT", p, q, &headers, b), Err(70156), "{name} method");
        assert_eq!(
            check(m, &format!("{p}x"), q, &headers, b),
            Err(70156),
            "{name} path"
        );
        assert_eq!(
            check(m, p, &format!("{q}&x=1"), &headers, b),
            Err(70156),
            "{name} query"
        );

        // A signed header changed, or dropped.
        for signed in ["authorization", "host"] {
            let changed: Vec<(&str, &str)> = headers
                .iter()
                .map(|&(n, v)| {
                    if n.eq_ignore_ascii_case(signed) {
                        (n, "changed")
                    } else {
                        (n, v)
                    }
                })
                .collect();
            assert_eq!(check(m, p, q, &changed, b), Err(70156), "{name} {signed}");
            let dropped: Vec<(&str, &str)> = headers
                .iter()
                .copied()
                .filter(|(n, _)| !n.eq_ignore_ascii_case(signed))
                .collect();
            assert_eq!(check(m, p, q, &dropped, b), Err(70155), "{name} -{signed}");
            // Sent twice: the values are joined, so the hash changes.
            let mut doubled = headers.clone();
            doubled.push((signed, "again"));
            assert_eq!(
                check(m, p, q, &doubled, b),
                Err(70156),
                "{name} {signed} twice"
            );
        }

        // Unsigned headers may change; header names may change case.
        let relaxed: Vec<(String, String)> = case
            .headers
            .iter()
            .filter(|(n, _)| !n.eq_ignore_ascii_case("user-agent"))
            .map(|(n, v)| (n.to_ascii_uppercase(), v.clone()))
            .chain([("X-Extra".to_owned(), "1".to_owned())])
            .collect();
        let relaxed: Vec<(&str, &str)> = relaxed
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        assert_eq!(check(m, p, q, &relaxed, b), Ok(()), "{name} relaxed");
        // The query's pieces are sorted before hashing.
        let reversed: Vec<&str> = q.split('&').rev().collect();
        assert_eq!(
            check(m, p, &reversed.join("&"), &headers, b),
            Ok(()),
            "{name} query order"
        );

        // Time.
        let exp = now + 300;
        let request = Request {
            method: m,
            path: p,
            query: q,
            headers: &headers,
            body: b,
        };
        let at = |t: i64| f.check(&case.token, &request, t);
        assert_eq!(at(exp + 59), Ok(()), "{name} leeway");
        assert_eq!(at(exp + 60), Err(20156), "{name} expired");
        assert_eq!(at(i64::MAX), Err(20156), "{name} far future");
        assert_eq!(at(now - 60), Ok(()), "{name} early within leeway");
        assert_eq!(at(now - 61), Err(20157), "{name} exp too far ahead");
        assert_eq!(at(i64::MIN), Err(20157), "{name} far past");
    }
}

#[test]
fn wrong_issuer_subject_kid_key_or_signature_fail() {
    let Some(f) = fixture() else { return };
    let case = f.case("post_form");
    let headers = case.header_refs();
    let request = Request {
        method: &case.method,
        path: &case.path,
        query: &case.query,
        headers: &headers,
        body: &case.body,
    };
    let now = case.issued_at();
    let code = |token: &str, expected: &Expected<'_>, key: Option<&PublicKey>| {
        verify(token, &request, expected, |_| key, now)
            .map(|_| ())
            .map_err(|e| e.code())
    };
    let key = Some(&f.key);
    let other_sk = format!("SK{}", "4".repeat(32));
    let other_ac = format!("AC{}", "5".repeat(32));
    let expected = f.expected();
    assert_eq!(code(&case.token, &expected, key), Ok(()));

    // iss / sub.
    let wrong_iss = Expected {
        api_key_sid: Some(&other_sk),
        ..expected
    };
    assert_eq!(code(&case.token, &wrong_iss, key), Err(20153));
    let auth_token = Expected {
        api_key_sid: None,
        ..expected
    };
    let err = verify(&case.token, &request, &auth_token, |_| key, now).unwrap_err();
    assert_eq!(err.code(), 20153);
    assert!(err.to_string().contains("API key"), "{err}");
    let wrong_sub = Expected {
        account_sid: &other_ac,
        ..expected
    };
    assert_eq!(code(&case.token, &wrong_sub, key), Err(20153));

    // kid: not registered (lookup by the token's kid), or signed with a kid
    // the account does not have.
    assert_eq!(code(&case.token, &expected, None), Err(70153));
    let unregistered = f.case("unregistered_kid");
    let unregistered_request = Request {
        method: &unregistered.method,
        path: &unregistered.path,
        query: &unregistered.query,
        headers: &unregistered.header_refs(),
        body: &unregistered.body,
    };
    let err = verify(
        &unregistered.token,
        &unregistered_request,
        &expected,
        f.key_for(),
        unregistered.issued_at(),
    )
    .unwrap_err();
    assert_eq!(err.code(), 70153);
    assert!(err.to_string().contains(&"9".repeat(32)), "{err}");

    // Another key registered under that kid.
    assert_eq!(code(&case.token, &expected, Some(&f.other_key)), Err(20151));

    // Tampered signature, claims, or header.
    let parts: Vec<&str> = case.token.split('.').collect();
    let mut sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    sig[10] ^= 1;
    let tampered = format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode(&sig));
    assert_eq!(code(&tampered, &expected, key), Err(20151));
    let mut claims = claims_of(&case.token);
    claims["exp"] = json!(claims["exp"].as_i64().unwrap() + 1);
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        parts[2]
    );
    assert_eq!(code(&tampered, &expected, key), Err(20151));
    let mut header = header_of(&case.token);
    header["alg"] = json!("PS256");
    let tampered = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        parts[1],
        parts[2]
    );
    assert_eq!(code(&tampered, &expected, key), Err(20151));
    // The PS256 token's signature is not an RS256 one.
    let ps = f.case("ps256_post");
    let ps_parts: Vec<&str> = ps.token.split('.').collect();
    let mut ps_header = header_of(&ps.token);
    ps_header["alg"] = json!("RS256");
    let swapped = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(ps_header.to_string()),
        ps_parts[1],
        ps_parts[2]
    );
    let ps_headers = ps.header_refs();
    let ps_request = Request {
        method: &ps.method,
        path: &ps.path,
        query: &ps.query,
        headers: &ps_headers,
        body: &ps.body,
    };
    let err = verify(&swapped, &ps_request, &expected, |_| key, ps.issued_at());
    assert_eq!(err.unwrap_err().code(), 20151);
}

#[test]
fn malformed_headers_are_20152() {
    let Some(f) = fixture() else { return };
    let case = f.case("get_plain");
    let headers = case.header_refs();
    let request = Request {
        method: &case.method,
        path: &case.path,
        query: &case.query,
        headers: &headers,
        body: &case.body,
    };
    let now = case.issued_at();
    let parts: Vec<&str> = case.token.split('.').collect();
    let with_header = |header: &str| {
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            parts[1],
            parts[2]
        )
    };
    let base = header_of(&case.token);
    let variant = |key: &str, value: Option<Value>| {
        let mut h = base.clone();
        match value {
            Some(v) => h[key] = v,
            None => {
                h.as_object_mut().unwrap().remove(key);
            }
        }
        with_header(&h.to_string())
    };
    let bad = [
        variant("alg", Some(json!("HS256"))),
        variant("alg", Some(json!("none"))),
        variant("alg", Some(json!("rs256"))),
        variant("alg", Some(json!("RS512"))),
        variant("alg", None),
        variant("cty", Some(json!("twilio-fpa;v=1"))),
        variant("cty", None),
        variant("kid", None),
        variant("kid", Some(json!(""))),
        variant("kid", Some(json!(42))),
        variant("typ", Some(json!("JWS"))),
        variant("crit", Some(json!(["exp"]))),
        with_header("not json"),
        with_header(r#"["RS256"]"#),
        with_header(r#"{"alg":"RS256","alg":"RS256","cty":"twilio-pkrv;v=1","kid":"CR"}"#),
        String::new(),
        "a.b".to_owned(),
        format!("{}.x", case.token),
        format!("{}=", case.token),
        format!("{}.{}.{}=", parts[0], parts[1], parts[2]),
        case.token.replacen('.', "..", 1),
        format!("{}+", case.token),
        "x".repeat(20_000),
    ];
    for token in bad {
        let err = verify(&token, &request, &f.expected(), f.key_for(), now).unwrap_err();
        assert_eq!(err.code(), 20152, "{token:.80}: {err}");
    }
    // typ may be omitted.
    let no_typ = variant("typ", None);
    assert_eq!(
        verify(&no_typ, &request, &f.expected(), f.key_for(), now)
            .unwrap_err()
            .code(),
        20151,
        "the header is signed, so editing it breaks the signature"
    );
}

#[test]
fn crafted_claims_fail_with_the_right_code() {
    let Some(f) = fixture() else { return };
    let case = f.case("post_form");
    let headers = case.header_refs();
    let request = Request {
        method: &case.method,
        path: &case.path,
        query: &case.query,
        headers: &headers,
        body: &case.body,
    };
    let now = 1_700_000_000;
    let rqh = request_hash(
        &case.method,
        &case.path,
        &case.query,
        &headers,
        &["authorization", "host"],
        &case.body,
    );
    let good = json!({
        "iss": f.api_key_sid, "sub": f.account_sid, "exp": now + 300, "nbf": now,
        "hrh": "authorization;host", "rqh": rqh,
    });
    let run = |claims: &[u8]| {
        verify(
            &f.sign(&f.header(), claims),
            &request,
            &f.expected(),
            f.key_for(),
            now,
        )
        .map(|v| v.kid)
        .map_err(|e| e.code())
    };
    let with = |key: &str, value: Option<Value>| {
        let mut c = good.clone();
        match value {
            Some(v) => c[key] = v,
            None => {
                c.as_object_mut().unwrap().remove(key);
            }
        }
        c.to_string().into_bytes()
    };
    assert_eq!(
        run(good.to_string().as_bytes()),
        Ok(f.credential_sid.clone())
    );
    // nbf is optional.
    assert!(run(&with("nbf", None)).is_ok());

    for claim in ["iss", "sub", "exp", "hrh", "rqh"] {
        assert_eq!(run(&with(claim, None)), Err(20154), "missing {claim}");
        assert_eq!(
            run(&with(claim, Some(Value::Null))),
            Err(20154),
            "null {claim}"
        );
        assert_eq!(
            run(&with(claim, Some(json!([1])))),
            Err(20154),
            "array {claim}"
        );
    }
    assert_eq!(
        run(&with("exp", Some(json!((now + 300).to_string())))),
        Err(20154)
    );
    assert_eq!(run(&with("exp", Some(json!(1.7e9)))), Err(20154));
    assert_eq!(run(&with("exp", Some(json!(u64::MAX)))), Err(20154));
    assert_eq!(run(&with("nbf", Some(json!("now")))), Err(20154));
    assert_eq!(run(&with("iss", Some(json!(7)))), Err(20154));
    assert_eq!(run(b"[]"), Err(20154));
    assert_eq!(run(b"not json"), Err(20154));
    assert_eq!(run(b""), Err(20154));
    let dup = good
        .to_string()
        .replacen('{', &format!("{{\"exp\":{},", now + 300), 1);
    assert_eq!(run(dup.as_bytes()), Err(20154), "repeated claim");

    // Time rules.
    assert_eq!(
        run(&with("nbf", Some(json!(now + 60)))),
        Ok(f.credential_sid.clone())
    );
    assert_eq!(run(&with("nbf", Some(json!(now + 61)))), Err(20155));
    assert_eq!(
        run(&with("exp", Some(json!(now + 360)))),
        Ok(f.credential_sid.clone())
    );
    assert_eq!(run(&with("exp", Some(json!(now + 361)))), Err(20157));
    assert_eq!(run(&with("exp", Some(json!(now - 60)))), Err(20156));
    assert_eq!(
        run(&with("exp", Some(json!(now - 59)))),
        Ok(f.credential_sid.clone())
    );
    // iss/sub are checked before time.
    assert_eq!(
        run(&{
            let mut c = good.clone();
            c["iss"] = json!("SKother");
            c["exp"] = json!(0);
            c.to_string().into_bytes()
        }),
        Err(20153)
    );

    // Signed headers.
    let hrh = |hrh: &str, signed: &[&str]| {
        let mut c = good.clone();
        c["hrh"] = json!(hrh);
        c["rqh"] = json!(request_hash(
            &case.method,
            &case.path,
            &case.query,
            &headers,
            signed,
            &case.body
        ));
        run(c.to_string().as_bytes())
    };
    assert_eq!(
        hrh("authorization", &["authorization"]),
        Err(70155),
        "host unsigned"
    );
    assert_eq!(hrh("host", &["host"]), Err(70155), "authorization unsigned");
    assert_eq!(hrh("", &[""]), Err(70155));
    assert_eq!(
        hrh("authorization;;host", &["authorization", "", "host"]),
        Err(70155)
    );
    assert_eq!(
        hrh(
            "authorization;host;x-missing",
            &["authorization", "host", "x-missing"]
        ),
        Err(70155)
    );
    let many = vec!["host"; 33].join(";");
    assert_eq!(hrh(&many, &["host"]), Err(20154), "hrh too long");
    // More headers signed than the minimum is fine when they are present.
    assert!(
        hrh(
            "authorization;content-type;host",
            &["authorization", "content-type", "host"]
        )
        .is_ok()
    );
    assert!(hrh("Authorization;Host", &["authorization", "host"]).is_ok());
    // rqh must be the lower-case hex of the hash.
    let mut upper = good.clone();
    upper["rqh"] = json!(rqh.to_ascii_uppercase());
    assert_eq!(run(upper.to_string().as_bytes()), Err(70156));
}

#[test]
fn errors_display_and_code() {
    let err = ClientValidationError::InvalidRequestHash;
    assert_eq!(err.code(), 70156);
    assert_eq!(err.title(), "Request Hash Is Invalid");
    assert!(err.to_string().starts_with("Request Hash Is Invalid: "));
}

#[test]
fn public_key_rules() {
    let key = PublicKey::from_pem(FIXED_PEM).unwrap();
    assert_eq!(key.bits(), 2048);
    assert_eq!(format!("{key:?}"), "PublicKey(RSA-2048, e=65537)");
    // CRLF line endings and surrounding whitespace are fine.
    let crlf = format!("\n  {}  \n", FIXED_PEM.replace('\n', "\r\n"));
    assert_eq!(PublicKey::from_pem(&crlf).unwrap().bits(), 2048);

    let bad = [
        ("", KeyError::NotPem),
        ("hello", KeyError::NotPem),
        ("-----BEGIN PUBLIC KEY-----\nAAAA\n", KeyError::NotPem),
        (
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END RSA PUBLIC KEY-----\n",
            KeyError::LabelMismatch,
        ),
        (
            "-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n",
            KeyError::Base64,
        ),
        (
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            KeyError::UnsupportedLabel("CERTIFICATE".to_owned()),
        ),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
            KeyError::PrivateKey,
        ),
    ];
    for (pem, expected) in bad {
        let err = PublicKey::from_pem(pem).unwrap_err();
        assert_eq!(err, expected, "{pem:?}");
        assert!(!err.to_string().is_empty());
    }
    let twice = format!("{FIXED_PEM}{FIXED_PEM}");
    assert_eq!(PublicKey::from_pem(&twice).unwrap_err(), KeyError::NotPem);
    let trailing = format!("{FIXED_PEM}junk");
    assert_eq!(
        PublicKey::from_pem(&trailing).unwrap_err(),
        KeyError::NotPem
    );
    // Trailing DER bytes inside the Base64.
    let der = pem_der(FIXED_PEM);
    let mut longer = der.clone();
    longer.push(0);
    assert!(matches!(
        PublicKey::from_spki_der(&longer),
        Err(KeyError::Der(_))
    ));
    assert!(PublicKey::from_spki_der(&der).is_ok());
    // Truncations never parse.
    for len in 0..der.len() {
        assert!(PublicKey::from_spki_der(&der[..len]).is_err(), "{len}");
    }
}

fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body).unwrap()
}

#[test]
fn python_keys_small_odd_and_foreign_are_rejected() {
    let Some(f) = fixture() else { return };
    let pem = |k: &str| f.pems[k].as_str().unwrap().to_owned();
    assert_eq!(
        PublicKey::from_pem(&pem("rsa1024_pem")).unwrap_err(),
        KeyError::ModulusTooSmall { bits: 1024 }
    );
    let e3 = PublicKey::from_pem(&pem("rsa_e3_pem")).unwrap_err();
    assert_eq!(e3, KeyError::Exponent { value: Some(3) });
    assert!(e3.to_string().contains("65537"), "{e3}");
    assert_eq!(
        PublicKey::from_pem(&pem("ec_pem")).unwrap_err(),
        KeyError::NotRsa
    );
    assert_eq!(
        PublicKey::from_pem(&pem("private_pem")).unwrap_err(),
        KeyError::PrivateKey
    );
    assert_eq!(
        PublicKey::from_pem(&pem("rsa3072_pem")).unwrap().bits(),
        3072
    );
    assert_eq!(PublicKey::from_pem(&pem("pkcs1_pem")).unwrap().bits(), 2048);
}

fn any_request_check(token: &str) {
    let key = PublicKey::from_pem(FIXED_PEM).unwrap();
    let headers = [("Authorization", "Basic eDp5"), ("Host", "api.twilio.com")];
    let request = Request {
        method: "GET",
        path: "/",
        query: "",
        headers: &headers,
        body: b"",
    };
    let expected = Expected {
        account_sid: "AC1",
        api_key_sid: Some("SK1"),
    };
    let result = verify(token, &request, &expected, |_| Some(&key), 1_700_000_000);
    // Nothing here is signed by the key.
    let err = result.unwrap_err();
    assert!([20151, 20152, 70153].contains(&err.code()), "{err}");
}

proptest! {
    #[test]
    fn verify_never_panics_on_arbitrary_strings(token in "\\PC{0,200}") {
        any_request_check(&token);
    }

    #[test]
    fn verify_never_panics_on_jwt_shaped_tokens(
        header in prop_oneof![
            Just(r#"{"cty":"twilio-pkrv;v=1","typ":"JWT","alg":"RS256","kid":"CR1"}"#.to_owned()),
            Just(r#"{"cty":"twilio-pkrv;v=1","alg":"PS256","kid":"CR1"}"#.to_owned()),
            "\\PC{0,60}",
        ],
        claims in proptest::collection::vec(any::<u8>(), 0..200),
        signature in proptest::collection::vec(any::<u8>(), 0..300),
        dots in "[.]{0,2}",
    ) {
        let token = format!(
            "{}.{}.{}{dots}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims),
            URL_SAFE_NO_PAD.encode(signature),
        );
        any_request_check(&token);
    }

    #[test]
    fn from_pem_never_panics_on_arbitrary_text(pem in "\\PC{0,300}") {
        let _ = PublicKey::from_pem(&pem);
        let wrapped = format!("-----BEGIN PUBLIC KEY-----\n{pem}\n-----END PUBLIC KEY-----\n");
        prop_assert!(PublicKey::from_pem(&wrapped).is_err());
    }

    #[test]
    fn from_pem_never_panics_on_mutated_keys(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in proptest::option::of(any::<prop::sample::Index>()),
        rsa_label in any::<bool>(),
    ) {
        let mut der = pem_der(FIXED_PEM);
        for (index, byte) in &edits {
            let i = index.index(der.len());
            der[i] = *byte;
        }
        if let Some(cut) = cut {
            der.truncate(cut.index(der.len()));
        }
        let label = if rsa_label { "RSA PUBLIC KEY" } else { "PUBLIC KEY" };
        let pem = format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            STANDARD.encode(&der)
        );
        if let Ok(key) = PublicKey::from_pem(&pem) {
            prop_assert!(key.bits() >= 2048 && key.bits() <= 8192);
        }
        let _ = PublicKey::from_spki_der(&der);
        let _ = PublicKey::from_pkcs1_der(&der);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Validly signed tokens with arbitrary claims reach the claim checks,
    /// which must not panic either.
    #[test]
    fn verify_never_panics_on_signed_arbitrary_claims(
        claims in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..120),
            (
                proptest::option::of(prop_oneof![Just(json!("SK1")), Just(json!(1)), Just(Value::Null)]),
                proptest::option::of(any::<i64>()),
                proptest::option::of(any::<i64>()),
                proptest::option::of("[a-zA-Z;]{0,30}"),
                proptest::option::of("[0-9a-f]{0,64}"),
            ).prop_map(|(iss, exp, nbf, hrh, rqh)| {
                let mut c = json!({"sub": "AC1"});
                if let Some(iss) = iss { c["iss"] = iss; }
                if let Some(exp) = exp { c["exp"] = json!(exp); }
                if let Some(nbf) = nbf { c["nbf"] = json!(nbf); }
                if let Some(hrh) = hrh { c["hrh"] = json!(hrh); }
                if let Some(rqh) = rqh { c["rqh"] = json!(rqh); }
                c.to_string().into_bytes()
            }),
        ],
        now in any::<i64>(),
    ) {
        let Some(f) = fixture() else { return Ok(()) };
        let token = f.sign(&f.header(), &claims);
        let headers = [("authorization", "x"), ("host", "h")];
        let request = Request { method: "GET", path: "/", query: "", headers: &headers, body: b"" };
        let expected = Expected { account_sid: "AC1", api_key_sid: Some("SK1") };
        let result = verify(&token, &request, &expected, f.key_for(), now);
        if let Err(err) = result {
            prop_assert!(!err.to_string().is_empty());
            prop_assert!(![20151, 20152, 70153].contains(&err.code()), "{}", err);
        }
    }
}
