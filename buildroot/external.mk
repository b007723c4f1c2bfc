include $(sort $(wildcard $(BR2_EXTERNAL_IOCINIT_PATH)/package/*/*.mk))
