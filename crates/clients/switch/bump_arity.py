"""In every `<var>.expect_<method>()` chain (up to the statement's `;`) of the EventBridge
mock, insert the bus argument into the `withf`/`returning` closures: the bus is the 2nd
parameter of every rule/target method."""
import re, sys

METHODS = {"describe_rule", "put_rule", "delete_rule", "list_targets", "put_target", "remove_targets"}

def bump_closure(chain):
    # closure parameter lists: `|a, b|` or `move |a, b|` right after `withf(` / `returning(`
    def fix(m):
        head, params = m.group(1), m.group(2)
        ps = [p.strip() for p in params.split(",")]
        ps.insert(1, "_")
        return f"{head}|{', '.join(ps)}|"
    return re.sub(r"((?:withf|returning)\((?:move )?)\|([^|]*)\|", fix, chain)

def run(path, var):
    s = open(path).read()
    out, i, n = [], 0, 0
    pat = re.compile(re.escape(var) + r"\s*\.expect_(\w+)\(\)")
    while True:
        m = pat.search(s, i)
        if not m:
            out.append(s[i:]); break
        end = s.index(";", m.end())
        out.append(s[i:m.start()])
        chain = s[m.start():end]
        if m.group(1) in METHODS:
            chain = bump_closure(chain); n += 1
        out.append(chain)
        i = end
    open(path, "w").write("".join(out))
    print(f"{path}: {n} expectation chains of `{var}` bumped", file=sys.stderr)

if __name__ == "__main__":
    run(sys.argv[1], sys.argv[2])
