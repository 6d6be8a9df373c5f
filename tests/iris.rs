//! The iris example learns something real: with a fixed seed, the validation accuracy it
//! prints is at least 0.9.

#[allow(dead_code)] // The example's `main` is not called here.
#[path = "../examples/iris.rs"]
mod iris;

#[test]
fn iris_reaches_ninety_percent_validation_accuracy() {
    let (history, accuracy) = iris::train(42, 0).unwrap();
    assert!(accuracy >= 0.9, "validation accuracy {accuracy}");
    // Early stopping restored the best epoch, whose logged accuracy is the one measured.
    let val_loss = history.val_loss();
    assert!(!val_loss.is_empty());
    let va = history.get("val_accuracy");
    assert!(
        va.iter().any(|a| (a - accuracy).abs() < 1e-6),
        "{accuracy} {va:?} {val_loss:?} {:?}",
        history.stopped
    );
}

#[test]
fn iris_data_is_the_uci_set() {
    let (x, y) = iris::load().unwrap();
    assert_eq!(x.dim(), (150, 4));
    for class in 0..3u8 {
        assert_eq!(y.iter().filter(|&&c| c == class).count(), 50);
    }
    // The validation tail holds every species.
    for class in 0..3u8 {
        assert!(y.iter().skip(120).any(|&c| c == class));
    }
}
