//! Prints every tensor of a checkpoint: `cargo run --example list_tensors -- FILE`.

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: list_tensors CHECKPOINT");
        std::process::exit(2);
    };
    match marlin_checkpoint::Checkpoint::load(&path) {
        Ok(ck) => {
            println!("{path}: {:?}, {} tensors", ck.format, ck.tensors.len());
            for (name, t) in &ck.tensors {
                println!("{name}\t{:?}\t{:?}", t.shape, t.stored_as);
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
