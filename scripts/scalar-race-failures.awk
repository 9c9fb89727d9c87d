# Reads `dotnet test` output (console logger, minimal) and prints one line per failed test: "race <test>" when its
# message is TorchSharp 0.107's Scalar finalizer race (docs/reliability.md: a garbage collection during a native call
# frees a Scalar libtorch still reads), "other <test>" otherwise. <test> is the method's full name, without arguments.
function flush() {
    if (name != "") print (race ? "race " : "other ") name
    name = ""; race = 0; external = 0
}
/^  Failed / {
    flush()
    name = $2
    sub(/\(.*/, "", name)
    next
}
/^(Passed|Failed)!/ { flush(); next }
name != "" && /ExternalException/ { external = 1 }
name != "" && (/c10\/core\/Scalar\.h/ || /Unknown scalar type/) && external { race = 1 }
END { flush() }
