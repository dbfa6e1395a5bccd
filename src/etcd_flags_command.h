// `betcore etcd-flags`: the flags an etcd member of a betcore cluster runs
// with (log/etcd/member_flags.h), one per line.
#pragma once

namespace CLI {
class App;
}

namespace betcore {
void add_etcd_flags_command(CLI::App& root);
}
