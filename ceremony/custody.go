package ceremony

// custodyPolicy sets what the token is told about target keys before any is made. Until the
// security officer's trust step exists, target keys are made without CKA_WRAP_WITH_TRUSTED.
func (e *engine) custodyPolicy() error {
	return e.sess.Waive("CKA_WRAP_WITH_TRUSTED")
}
