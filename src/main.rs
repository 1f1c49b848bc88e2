fn main() {
    println!("panka");
}
