package ondemand;

/** Not an entry point a launched server can make: it has no no-argument constructor. */
public class NoDefaultConstructor {
    /** @param x anything */
    public NoDefaultConstructor(int x) {
    }
}
