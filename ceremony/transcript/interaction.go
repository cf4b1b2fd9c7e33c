package transcript

import "encoding/json"

// HeadlessNote is what verify, show, review and inventory say of a ceremony that ran headless
// (run --yes): its checks were confirmed by the command line, not by people.
const HeadlessNote = "headless: no person confirmed the checks"

// Headless reports whether the begin event of events says the ceremony ran headless: its
// ceremony facts hold "interaction": "headless".
func Headless(events []Event) bool {
	if len(events) == 0 || events[0].Kind != KindBegin {
		return false
	}
	var begin struct {
		Ceremony struct {
			Interaction string `json:"interaction"`
		} `json:"ceremony"`
	}
	return json.Unmarshal(events[0].Facts, &begin) == nil && begin.Ceremony.Interaction == "headless"
}
