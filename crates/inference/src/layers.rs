//! The layers of the inference crate, checked as the application's are (see
//! `crates/layering`): the kernels at the bottom, the two kinds of model above them, each
//! knowing nothing of the other.

const RULES: localgpt_layering::Rules<'static> = localgpt_layering::Rules {
    layers: &[
        ("leaves", &["kernels", "layers"]),
        ("models", &["chat", "embedding"]),
    ],
    admitted_circle: &[],
};

#[test]
fn every_module_has_one_layer() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let problems = localgpt_layering::table_problems(&src, &RULES);
    assert!(problems.is_empty(), "src/layers.rs: {problems:?}");
}

#[test]
fn modules_use_only_the_layers_below_them() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let forbidden = localgpt_layering::forbidden_edges(&src, &RULES);
    assert!(
        forbidden.is_empty(),
        "uses the layering does not allow (see src/layers.rs):\n{}",
        forbidden.join("\n")
    );
}
