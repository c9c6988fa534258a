//! Each feature toggle and identity option adds or removes exactly its own resources: the
//! resources labelled with it, and nothing else.

use std::collections::BTreeSet;

use rmdeploy::plan;
use rmdeploy::profile::{self, model::FEATURE_NAMES, IdentityProvider, Profile};
use rmdeploy::render;

fn base(selection: &str) -> (Profile, profile::Source) {
    let source = profile::select(Some(selection), None).unwrap();
    (profile::parse(&source).unwrap(), source)
}

/// Resource ids of a profile, and the ids labelled with `feature`.
fn resources(
    p: &Profile,
    source: &profile::Source,
    feature: &str,
) -> (BTreeSet<String>, BTreeSet<String>) {
    let resolved = profile::resolve(p.clone(), source.clone(), None).expect("profile resolves");
    let rendered = render::render(&resolved, None).expect("renders");
    let items = plan::resources(&rendered.stack);
    let all = items.iter().map(|r| r.logical_id.clone()).collect();
    let labelled = items
        .iter()
        .filter(|r| r.feature == feature)
        .map(|r| r.logical_id.clone())
        .collect();
    (all, labelled)
}

/// Turning `feature` on over `off` adds exactly the resources labelled `feature`.
fn assert_adds_exactly(off: &Profile, on: &Profile, source: &profile::Source, feature: &str) {
    let (without, labelled_without) = resources(off, source, feature);
    let (with, labelled_with) = resources(on, source, feature);
    assert!(
        labelled_without.is_empty(),
        "{feature} off still has {labelled_without:?}"
    );
    assert!(!labelled_with.is_empty(), "{feature} on adds nothing");
    let added: BTreeSet<String> = with.difference(&without).cloned().collect();
    let removed: BTreeSet<String> = without.difference(&with).cloned().collect();
    // The API deployment's id follows the API's shape, so routes of a feature renew it.
    let renamed = |s: &BTreeSet<String>| {
        s.iter()
            .filter(|id| id.starts_with("ApiDeployment"))
            .count()
    };
    let added_core: BTreeSet<&String> = added
        .iter()
        .filter(|id| !id.starts_with("ApiDeployment"))
        .collect();
    let labelled: BTreeSet<&String> = labelled_with.iter().collect();
    assert_eq!(
        added_core, labelled,
        "{feature}: added resources differ from its labelled ones"
    );
    assert_eq!(
        renamed(&added),
        renamed(&removed),
        "{feature}: removed {removed:?}"
    );
    assert!(
        removed.iter().all(|id| id.starts_with("ApiDeployment")),
        "{feature} removed {removed:?}"
    );
}

#[test]
fn each_toggle_adds_exactly_its_resources_to_a_small_stack() {
    let (dev, source) = base("dev");
    for name in FEATURE_NAMES {
        let mut on = dev.clone();
        assert!(on.features.set(name, true));
        assert_adds_exactly(&dev, &on, &source, name);
    }
}

#[test]
fn each_toggle_removes_exactly_its_resources_from_a_full_stack() {
    let (full, source) = base(&crate::support::fixture("all-features.yaml"));
    for name in FEATURE_NAMES {
        let mut off = full.clone();
        assert!(off.features.set(name, false));
        if name == "voice_assistants" {
            off.lambda.reserved_concurrency.clear();
        }
        assert_adds_exactly(&off, &full, &source, name);
    }
}

#[test]
fn identity_options_add_exactly_their_resources() {
    let (full, source) = base(&crate::support::fixture("all-features.yaml"));
    for (feature, switch_off) in [
        (
            "identity_email",
            (|p: &mut Profile| p.identity.email = false) as fn(&mut Profile),
        ),
        ("identity_sms_otp", |p: &mut Profile| {
            p.identity.sms_otp = false
        }),
    ] {
        let mut off = full.clone();
        switch_off(&mut off);
        assert_adds_exactly(&off, &full, &source, feature);
    }

    // cognito and oauth2 swap their own resources and nothing else
    let mut oauth2 = full.clone();
    oauth2.identity.provider = Some(IdentityProvider::Oauth2);
    oauth2.identity.email = false;
    oauth2.identity.sms_otp = false;
    let mut cognito = oauth2.clone();
    cognito.identity.provider = Some(IdentityProvider::Cognito);
    let (with_cognito, cognito_own) = resources(&cognito, &source, "identity_cognito");
    let (with_oauth2, oauth2_own) = resources(&oauth2, &source, "identity_oauth2");
    let strip = |all: &BTreeSet<String>, own: &BTreeSet<String>| -> BTreeSet<String> {
        all.difference(own)
            .filter(|id| !id.starts_with("ApiDeployment"))
            .cloned()
            .collect()
    };
    assert!(cognito_own.contains("UserPool") && oauth2_own.contains("AuthorizerFunction"));
    assert_eq!(
        strip(&with_cognito, &cognito_own),
        strip(&with_oauth2, &oauth2_own)
    );
}
