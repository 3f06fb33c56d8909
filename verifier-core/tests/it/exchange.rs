//! The exchange wire types and installation transitions shared by SDK and host.

use verifier_core::exchange::{
    ExchangeRequest, ExchangeResponse, SetupCodeExchange, management_api_base_url,
};
use verifier_core::{BodyError, InstallationStatus, InstallationUpdate};

#[test]
fn exchange_request_parses_hygraphs_body() {
    let r =
        ExchangeRequest::from_json(br#"{"clientId":"c","clientSecret":"s","exchangeCode":"x"}"#)
            .unwrap();
    assert_eq!(
        (
            r.client_id.as_str(),
            r.client_secret.as_str(),
            r.exchange_code.as_str()
        ),
        ("c", "s", "x")
    );
    // Debug never shows the secrets.
    let debug = format!("{r:?}");
    assert!(!debug.contains("\"s\"") && !debug.contains("\"x\"") && debug.contains("<redacted>"));
}

#[test]
fn exchange_request_names_every_missing_field() {
    let err = ExchangeRequest::from_json(br#"{"clientSecret":"s","exchangeCode":""}"#).unwrap_err();
    assert_eq!(
        err,
        BodyError::MissingFields(vec!["clientId", "exchangeCode"])
    );
    assert_eq!(
        err.to_string(),
        "missing required fields: clientId, exchangeCode"
    );
    let err =
        ExchangeRequest::from_json(br#"{"clientId":1,"clientSecret":"s","exchangeCode":"x"}"#)
            .unwrap_err();
    assert_eq!(err, BodyError::MissingFields(vec!["clientId"]));
    assert_eq!(
        ExchangeRequest::from_json(b"[1]").unwrap_err(),
        BodyError::NotAnObject
    );
    assert_eq!(
        ExchangeRequest::from_json(b"{oops").unwrap_err(),
        BodyError::NotAnObject
    );
}

#[test]
fn exchange_response_is_app_token() {
    let json = serde_json::to_string(&ExchangeResponse {
        app_token: "t".into(),
    })
    .unwrap();
    assert_eq!(json, r#"{"appToken":"t"}"#);
    assert!(
        !format!(
            "{:?}",
            ExchangeResponse {
                app_token: "t0ken".into()
            }
        )
        .contains("t0ken")
    );
}

#[test]
fn management_api_base_url_drops_the_last_segment() {
    for (mgmt, base) in [
        (
            "https://api.example.com/v1/management",
            "https://api.example.com/v1",
        ),
        (
            "http://127.0.0.1:8787/v1/management/",
            "http://127.0.0.1:8787/v1",
        ),
        ("https://h/a/b/c", "https://h/a/b"),
        ("https://h/management", "https://h"),
    ] {
        assert_eq!(management_api_base_url(mgmt).unwrap(), base, "{mgmt}");
    }
    for bad in [
        "https://h",
        "https://h/",
        "ftp://h/a",
        "/v1/management",
        "https://user@h/a/b",
        "https://h/a?x=1",
        "https:///a",
    ] {
        assert!(management_api_base_url(bad).is_err(), "{bad}");
    }
}

#[test]
fn setup_code_exchange_validates_and_checks_the_authority() {
    let body = br#"{"code":"c0de","environmentId":"master","managementApiBaseUrl":"http://127.0.0.1:8787/v1/"}"#;
    let e = SetupCodeExchange::from_json(body).unwrap();
    assert_eq!(e.management_api_base_url, "http://127.0.0.1:8787/v1");
    assert_eq!(
        e.exchange_url(),
        "http://127.0.0.1:8787/v1/app-exchange-token"
    );
    assert!(e.check_authority(&["http://127.0.0.1:8787/v1/"]).is_ok());
    assert!(e.check_authority(&["https://evil.example/v1"]).is_err());
    assert!(!format!("{e:?}").contains("c0de"));

    let err = SetupCodeExchange::from_json(br#"{"environmentId":"m"}"#).unwrap_err();
    assert_eq!(
        err,
        BodyError::MissingFields(vec!["code", "managementApiBaseUrl"])
    );
    let err = SetupCodeExchange::from_json(
        br#"{"code":"c","environmentId":"m","managementApiBaseUrl":"javascript:alert(1)"}"#,
    )
    .unwrap_err();
    assert!(matches!(
        err,
        BodyError::Invalid {
            field: "managementApiBaseUrl",
            ..
        }
    ));
}

#[test]
fn installation_transitions_follow_the_table() {
    use InstallationStatus::*;
    let allowed = [
        (Pending, Completed),
        (Pending, Disabled),
        (Completed, Disabled),
        (Disabled, Pending),
        (Pending, Uninstalled),
        (Completed, Uninstalled),
        (Disabled, Uninstalled),
    ];
    // UNINSTALLED is the end: nothing leaves it.
    for from in [Pending, Completed, Disabled, Uninstalled] {
        for to in [Pending, Completed, Disabled, Uninstalled] {
            let ok = from == to || allowed.contains(&(from, to));
            assert_eq!(from.transition(to).is_ok(), ok, "{from} -> {to}");
        }
    }
    assert_eq!(
        Completed.transition(Pending).unwrap_err().to_string(),
        "an installation cannot go from COMPLETED to PENDING"
    );
}

#[test]
fn installation_update_rejects_unknown_fields() {
    let u: InstallationUpdate = serde_json::from_str(r#"{"status":"COMPLETED"}"#).unwrap();
    assert_eq!(u.status, Some(InstallationStatus::Completed));
    assert!(serde_json::from_str::<InstallationUpdate>(r#"{"status":"DONE"}"#).is_err());
    assert!(serde_json::from_str::<InstallationUpdate>(r#"{"stauts":"COMPLETED"}"#).is_err());
}

#[test]
fn wire_names_parse_back() {
    use verifier_core::TokenKind;
    for kind in [
        TokenKind::App,
        TokenKind::Pat,
        TokenKind::System,
        TokenKind::Session,
    ] {
        assert_eq!(kind.as_str().parse::<TokenKind>(), Ok(kind));
    }
    for status in [
        InstallationStatus::Pending,
        InstallationStatus::Completed,
        InstallationStatus::Disabled,
        InstallationStatus::Uninstalled,
    ] {
        assert_eq!(status.as_str().parse::<InstallationStatus>(), Ok(status));
    }
    assert!("app".parse::<TokenKind>().is_err());
    assert!("DONE".parse::<InstallationStatus>().is_err());
}
