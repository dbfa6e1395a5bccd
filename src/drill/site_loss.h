// `betcore drill --scenario site-loss`: the whole site lost under load, and a new cluster restored
// from the continuous archive (docs/drill.md, "Losing the whole site").
#pragma once

#include <filesystem>

#include "drill/drill.h"
#include "drill/report.h"
#include "drill/testnet.h"

namespace betcore::drill {

// The cluster, an archiver (`betcore backup run --etcd`) and the load; after
// `options.minutes` every node and etcd member is killed with -9 and its data
// deleted (the archiver too: its archive is the other site's copy); new etcd
// members are loaded by `betcore restore --etcd`, node-1 starts on the
// restored data and the others load its snapshot; the load runs on, then
// every check of a drill, against the archived history up to the restored
// position and the new cluster's after it. The report gets the RPO (the
// oldest acknowledged write lost) and the restore time. False (exit 2) when
// it could not be set up.
bool run_site_loss(const DrillOptions& options, TestNet& net, const std::filesystem::path& root,
                   DrillReport& report);

}  // namespace betcore::drill
