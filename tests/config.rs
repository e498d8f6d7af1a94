//! Configuration precedence. Every test here touches the process-wide config
//! or the environment, so they take one lock and run one at a time.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use zaby::{
    DEFAULT_API_ORIGIN, Environment, Error, LOCAL_API_ORIGIN, ZabyGlobalConfig, ZabyRuntime,
    configure_zaby, reset_zaby_config,
};

static LOCK: Mutex<()> = Mutex::new(());

/// Holds the lock with a clean slate: no global config, no variables.
fn clean() -> MutexGuard<'static, ()> {
    let guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    reset_zaby_config();
    set_env("ZABY_API_ORIGIN", None);
    set_env("ZABY_ENVIRONMENT", None);
    guard
}

fn set_env(name: &str, value: Option<&str>) {
    // SAFETY: every test of this binary holds LOCK, so no other thread reads
    // or writes the environment meanwhile.
    unsafe {
        match value {
            Some(v) => std::env::set_var(name, v),
            None => std::env::remove_var(name),
        }
    }
}

fn origin_of(builder: zaby::ZabyRuntimeBuilder) -> String {
    builder
        .token("eyJhbGciOi.test")
        .build()
        .unwrap()
        .api_origin()
        .to_owned()
}

#[test]
fn defaults_to_production() {
    let _g = clean();
    assert_eq!(origin_of(ZabyRuntime::builder()), DEFAULT_API_ORIGIN);
}

#[test]
fn environment_variables_apply() {
    let _g = clean();
    set_env("ZABY_ENVIRONMENT", Some("local"));
    assert_eq!(origin_of(ZabyRuntime::builder()), LOCAL_API_ORIGIN);
    set_env("ZABY_API_ORIGIN", Some("http://127.0.0.1:7000/"));
    assert_eq!(origin_of(ZabyRuntime::builder()), "http://127.0.0.1:7000");
    set_env("ZABY_ENVIRONMENT", Some("somewhere-else"));
    set_env("ZABY_API_ORIGIN", None);
    assert_eq!(origin_of(ZabyRuntime::builder()), DEFAULT_API_ORIGIN);
}

#[test]
fn global_beats_environment_and_client_beats_global() {
    let _g = clean();
    set_env("ZABY_API_ORIGIN", Some("http://127.0.0.1:7000"));
    configure_zaby(ZabyGlobalConfig {
        api_origin: Some("http://127.0.0.1:7001".into()),
        ..Default::default()
    });
    assert_eq!(origin_of(ZabyRuntime::builder()), "http://127.0.0.1:7001");
    let own = ZabyRuntime::builder().api_origin("http://127.0.0.1:7002");
    assert_eq!(origin_of(own), "http://127.0.0.1:7002");
    let via_config = ZabyRuntime::builder().config(ZabyGlobalConfig {
        api_origin: Some("http://127.0.0.1:7003".into()),
        ..Default::default()
    });
    assert_eq!(origin_of(via_config), "http://127.0.0.1:7003");
}

#[test]
fn an_origin_at_any_level_beats_a_preset_at_any_level() {
    let _g = clean();
    configure_zaby(ZabyGlobalConfig {
        api_origin: Some("http://127.0.0.1:7001".into()),
        ..Default::default()
    });
    let local = ZabyRuntime::builder().environment(Environment::Local);
    assert_eq!(origin_of(local), "http://127.0.0.1:7001");
    reset_zaby_config();
    set_env("ZABY_API_ORIGIN", Some("http://127.0.0.1:7000"));
    configure_zaby(ZabyGlobalConfig {
        environment: Some(Environment::Production),
        ..Default::default()
    });
    assert_eq!(origin_of(ZabyRuntime::builder()), "http://127.0.0.1:7000");
}

#[test]
fn configure_zaby_merges_field_by_field() {
    let _g = clean();
    configure_zaby(ZabyGlobalConfig {
        environment: Some(Environment::Local),
        timeout: Some(Duration::from_secs(5)),
        ..Default::default()
    });
    configure_zaby(ZabyGlobalConfig {
        user_agent: Some("my-app/1".into()),
        ..Default::default()
    });
    assert_eq!(origin_of(ZabyRuntime::builder()), LOCAL_API_ORIGIN);
    reset_zaby_config();
    assert_eq!(origin_of(ZabyRuntime::builder()), DEFAULT_API_ORIGIN);
}

#[test]
fn the_insecure_check_applies_to_the_resolved_origin() {
    let _g = clean();
    set_env("ZABY_API_ORIGIN", Some("http://zaby.internal:9080"));
    let err = ZabyRuntime::new("eyJhbGciOi.test").unwrap_err();
    assert!(
        matches!(&err, Error::Config(m) if m.contains("allow_insecure_http")),
        "{err}"
    );
    let allowed = ZabyRuntime::builder().allow_insecure_http(true);
    assert_eq!(origin_of(allowed), "http://zaby.internal:9080");
    set_env("ZABY_API_ORIGIN", None);
    configure_zaby(ZabyGlobalConfig {
        api_origin: Some("http://zaby.internal".into()),
        ..Default::default()
    });
    assert!(matches!(
        ZabyRuntime::new("eyJhbGciOi.test"),
        Err(Error::Config(_))
    ));
}

#[test]
fn builder_refuses_missing_or_empty_tokens_and_bad_origins() {
    let _g = clean();
    let missing = ZabyRuntime::builder().build().unwrap_err();
    assert!(
        matches!(&missing, Error::Config(m) if m.contains("no runtime token")),
        "{missing}"
    );
    assert!(matches!(ZabyRuntime::new(""), Err(Error::Config(_))));
    assert!(matches!(ZabyRuntime::new("  "), Err(Error::Config(_))));
    for origin in ["genapi.zaby.io", "ftp://genapi.zaby.io", "https://"] {
        let built = ZabyRuntime::builder()
            .token("eyJhbGciOi.test")
            .api_origin(origin)
            .build();
        assert!(matches!(built, Err(Error::Config(_))), "{origin}");
    }
}
