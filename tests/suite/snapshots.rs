//! Snapshots of the rendered templates of every shipped profile: any change to what rmdeploy
//! deploys shows up as a reviewed diff (`cargo insta review`).

#[test]
fn shipped_profiles_render_as_recorded() {
    for (profile, region) in [
        ("global", None),
        ("china", None),
        ("dev", None),
        ("china", Some("cn-northwest-1")),
    ] {
        let rendered = crate::support::render(profile, region);
        let name = match region {
            Some(r) => format!("{profile}-{r}"),
            None => profile.to_string(),
        };
        insta::assert_snapshot!(format!("{name}-stack"), rendered.stack.to_yaml());
    }
    // every feature, identity option and capacity mode (auto scaling included)
    let all = crate::support::render(&crate::support::fixture("all-features.yaml"), None);
    insta::assert_snapshot!("all-features-stack", all.stack.to_yaml());
    let bootstrap = crate::support::render("global", None).bootstrap.to_yaml();
    insta::assert_snapshot!("bootstrap", bootstrap);
}

#[test]
fn rendering_is_deterministic() {
    let a = crate::support::render("global", None).stack.to_json();
    let b = crate::support::render("global", None).stack.to_json();
    assert_eq!(a, b);

    // the same profile in another folder renders the same template
    let dir = tempfile::tempdir().unwrap();
    let moved = dir.path().join("copy.yaml");
    std::fs::copy(crate::support::fixture("all-features.yaml"), &moved).unwrap();
    assert_eq!(
        crate::support::render(moved.to_str().unwrap(), None)
            .stack
            .to_json(),
        crate::support::render(&crate::support::fixture("all-features.yaml"), None)
            .stack
            .to_json()
    );
}
