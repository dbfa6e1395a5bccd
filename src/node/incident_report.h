// An incident's report for the people who pick it up (guard.h): one HTML
// page with the signal's chart (the expected range shaded, the actions
// marked), what was seen, what was done, what it changed and what a person
// must still do; and the same as JSON (incident_json). Rewritten to
// DATA/incidents/<id>.html and .json at each change of the incident
// (opened, an action, its undoing, closed).
#pragma once

#include <string>

#include "node/guard.h"

namespace betcore::node {

std::string incident_html(const Incident& incident);

// Writes <dir>/<id>.html and <id>.json (creating dir). False with `error`.
bool write_incident_report(const std::string& dir, const Incident& incident, std::string& error);

}  // namespace betcore::node
