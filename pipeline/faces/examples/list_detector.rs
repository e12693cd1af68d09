fn main() {
    let path = std::env::args().nth(1).unwrap();
    let v = marlin_checkpoint::load_pickled_object(&path).unwrap();
    let mut out = std::collections::BTreeMap::new();
    marlin_faces::retinaface::weights::collect(&v, "", &mut out);
    for (k, t) in &out {
        println!("{k} {:?}", t.shape);
    }
}
