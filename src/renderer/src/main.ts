import { createPinia } from 'pinia'
import { createApp } from 'vue'
import { mirrorScriptStyles } from './adopted-styles.ts'
import App from './App.vue'
import { connectDefaultClient, setClient } from './api.ts'
import './styles.css'

mirrorScriptStyles()
setClient(connectDefaultClient())
createApp(App).use(createPinia()).mount('#app')
